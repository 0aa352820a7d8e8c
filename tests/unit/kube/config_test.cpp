#include "kube/config.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fakes/fake_clock.h"

namespace sluice::kube {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("sluice-kubeconfig-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& contents) {
    auto path = (dir_ / name).string();
    std::ofstream(path) << contents;
    return path;
  }

  // A kubeconfig with one context, whose cluster/user bodies are given.
  std::string config(const std::string& clusterBody, const std::string& userBody, const std::string& extraCtx = "") {
    return "apiVersion: v1\nkind: Config\ncurrent-context: main\n"
           "clusters:\n- name: c1\n  cluster:\n" +
           clusterBody + "users:\n- name: u1\n  user:\n" + userBody +
           "contexts:\n- name: main\n  context:\n    cluster: c1\n    user: u1\n" + extraCtx;
  }

  fs::path dir_;
};

constexpr const char* kServer = "    server: https://127.0.0.1:6443/\n";

TEST_F(KubeconfigTest, TokenUserWithCaDataAndNamespace) {
  // "Q0EtUEVN" is base64 of "CA-PEM".
  auto path = write("kc", config(std::string(kServer) + "    certificate-authority-data: Q0EtUEVN\n",
                                 "    token: abc123\n", "    namespace: team-a\n"));
  auto cfg = loadKubeconfig(path);
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_EQ(cfg->server, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->caPem, "CA-PEM");
  EXPECT_EQ(cfg->token, "abc123");
  EXPECT_EQ(cfg->defaultNamespace, "team-a");
  EXPECT_FALSE(cfg->insecureSkipTlsVerify);
  EXPECT_EQ(cfg->origin, "kubeconfig " + path + " (context main)");
}

TEST_F(KubeconfigTest, ClientCertificateFilesAndCaFileRelativeToTheKubeconfig) {
  write("ca.crt", "CA");
  write("client.crt", "CERT");
  write("client.key", "KEY");
  auto path = write(
      "kc", config(std::string(kServer) + "    certificate-authority: ca.crt\n",
                   "    client-certificate: client.crt\n    client-key: " + (dir_ / "client.key").string() + "\n"));
  auto cfg = loadKubeconfig(path);
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_EQ(cfg->caPem, "CA");
  EXPECT_EQ(cfg->clientCertPem, "CERT");
  EXPECT_EQ(cfg->clientKeyPem, "KEY");
  EXPECT_EQ(cfg->defaultNamespace, "default");
}

TEST_F(KubeconfigTest, ClientCertificateAndKeyData) {
  // "Q0VSVA==" = "CERT", "S0VZ" = "KEY".
  auto path = write("kc", config(kServer, "    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n"));
  auto cfg = loadKubeconfig(path);
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_EQ(cfg->clientCertPem, "CERT");
  EXPECT_EQ(cfg->clientKeyPem, "KEY");
}

TEST_F(KubeconfigTest, TokenFileAndInsecureSkipTlsVerify) {
  write("token", "  tok-1\n");
  auto path =
      write("kc", config(std::string(kServer) + "    insecure-skip-tls-verify: true\n", "    tokenFile: token\n"));
  auto cfg = loadKubeconfig(path);
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_TRUE(cfg->insecureSkipTlsVerify);
  EXPECT_EQ(cfg->tokenFile, (dir_ / "token").string());
}

TEST_F(KubeconfigTest, ExplicitContextOverridesCurrentContext) {
  auto text = config(kServer, "    token: a\n") +
              "- name: other\n  context:\n    cluster: c1\n    user: u1\n    namespace: ns-other\n";
  auto cfg = parseKubeconfig(text, "/x/kc", "other");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_EQ(cfg->defaultNamespace, "ns-other");
}

TEST_F(KubeconfigTest, ContextWithoutUserIsAnonymous) {
  auto text =
      "current-context: m\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:8080\n"
      "contexts:\n- name: m\n  context:\n    cluster: c\n";
  auto cfg = parseKubeconfig(text, "/x/kc");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_TRUE(cfg->token.empty());
  EXPECT_TRUE(cfg->clientCertPem.empty());
}

struct MalformedCase {
  std::string name;
  std::string text;
  std::string expectedMessage;  // after "kubeconfig /cfg/kc: "
};

class MalformedKubeconfigTest : public ::testing::TestWithParam<MalformedCase> {};

TEST_P(MalformedKubeconfigTest, ErrorNamesTheFileAndTheField) {
  auto cfg = parseKubeconfig(GetParam().text, "/cfg/kc");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_EQ(cfg.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cfg.status().message(), "kubeconfig /cfg/kc: " + GetParam().expectedMessage);
}

const std::string kCluster = "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n";
const std::string kContext = "contexts:\n- name: m\n  context:\n    cluster: c\n    user: u\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, MalformedKubeconfigTest,
    ::testing::Values(
        MalformedCase{"NotAMap", "- 1\n- 2\n", "(document): must be a YAML map"},
        MalformedCase{"NoCurrentContext", kCluster + kContext, "current-context: not set and no context was given"},
        MalformedCase{"UnknownContext", "current-context: nope\n" + kCluster + kContext,
                      "current-context: \"nope\" not found in contexts"},
        MalformedCase{"ContextsNotAList", "current-context: m\ncontexts: 5\n", "contexts: must be a list"},
        MalformedCase{"ContextWithoutCluster", "current-context: m\ncontexts:\n- name: m\n  context:\n    user: u\n",
                      "contexts[name=m].context.cluster: missing"},
        MalformedCase{"UnknownCluster", "current-context: m\n" + kContext,
                      "contexts[name=m].context.cluster: \"c\" not found in clusters"},
        MalformedCase{
            "ClusterWithoutServer",
            "current-context: m\nclusters:\n- name: c\n  cluster:\n    insecure-skip-tls-verify: true\n" + kContext,
            "clusters[name=c].cluster.server: missing"},
        MalformedCase{"ServerNotUrl",
                      "current-context: m\nclusters:\n- name: c\n  cluster:\n    server: 127.0.0.1:6443\n" + kContext,
                      "clusters[name=c].cluster.server: \"127.0.0.1:6443\" is not an http(s) URL"},
        MalformedCase{"BadCaData",
                      "current-context: m\n" + kCluster + "    certificate-authority-data: '@@@@'\n" + kContext,
                      "clusters[name=c].cluster.certificate-authority-data: invalid base64: unexpected character '@'"},
        MalformedCase{"MissingCaFile",
                      "current-context: m\n" + kCluster + "    certificate-authority: /no/such/ca.crt\n" + kContext,
                      "clusters[name=c].cluster.certificate-authority: cannot read file /no/such/ca.crt"},
        MalformedCase{"InsecureNotBool",
                      "current-context: m\n" + kCluster + "    insecure-skip-tls-verify: maybe\n" + kContext,
                      "clusters[name=c].cluster.insecure-skip-tls-verify: must be true or false, got \"maybe\""},
        MalformedCase{"UnknownUser", "current-context: m\n" + kCluster + kContext,
                      "contexts[name=m].context.user: \"u\" not found in users"},
        MalformedCase{"CertWithoutKey",
                      "current-context: m\n" + kCluster + kContext +
                          "users:\n- name: u\n  user:\n    client-certificate-data: Q0VSVA==\n",
                      "users[name=u].user.client-key: missing (client-certificate is set)"},
        MalformedCase{
            "KeyWithoutCert",
            "current-context: m\n" + kCluster + kContext + "users:\n- name: u\n  user:\n    client-key-data: S0VZ\n",
            "users[name=u].user.client-certificate: missing (client-key is set)"},
        MalformedCase{
            "BadKeyData",
            "current-context: m\n" + kCluster + kContext +
                "users:\n- name: u\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: abc\n",
            "users[name=u].user.client-key-data: invalid base64: length is not a multiple of 4"},
        MalformedCase{"MissingCertFile",
                      "current-context: m\n" + kCluster + kContext +
                          "users:\n- name: u\n  user:\n    client-certificate: /no/cert\n    client-key: /no/key\n",
                      "users[name=u].user.client-certificate: cannot read file /no/cert"},
        MalformedCase{
            "MissingTokenFile",
            "current-context: m\n" + kCluster + kContext + "users:\n- name: u\n  user:\n    tokenFile: /no/token\n",
            "users[name=u].user.tokenFile: cannot read file /no/token"},
        MalformedCase{"TokenNotString",
                      "current-context: m\n" + kCluster + kContext + "users:\n- name: u\n  user:\n    token: [a]\n",
                      "users[name=u].user.token: must be a string"},
        MalformedCase{"UserEntryWithoutBody", "current-context: m\n" + kCluster + kContext + "users:\n- name: u\n",
                      "users[name=u].user: missing or not a map"}),
    [](const auto& testInfo) { return testInfo.param.name; });

TEST_F(KubeconfigTest, NotYamlErrorNamesTheFile) {
  auto cfg = parseKubeconfig("a: [1, 2", "/cfg/kc");
  ASSERT_FALSE(cfg.isOk());
  EXPECT_EQ(cfg.status().message().rfind("kubeconfig /cfg/kc: (document): not valid YAML: ", 0), 0u)
      << cfg.status().message();
}

TEST_F(KubeconfigTest, MissingFileNamesTheFile) {
  auto cfg = loadKubeconfig((dir_ / "absent").string());
  ASSERT_FALSE(cfg.isOk());
  EXPECT_EQ(cfg.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(cfg.status().message(),
            "kubeconfig " + (dir_ / "absent").string() + ": cannot read file " + (dir_ / "absent").string());
  EXPECT_FALSE(loadKubeconfig("").isOk());
}

TEST_F(KubeconfigTest, EmptyTokenFileIsRefused) {
  write("token", "\n");
  auto path = write("kc", config(kServer, "    tokenFile: token\n"));
  auto cfg = loadKubeconfig(path);
  ASSERT_FALSE(cfg.isOk());
  EXPECT_EQ(cfg.status().message(),
            "kubeconfig " + path + ": users[name=u1].user.tokenFile: file " + (dir_ / "token").string() + " is empty");
}

TEST_F(KubeconfigTest, InClusterConfigReadsServiceAccountFiles) {
  write("token", "sa-token\n");
  write("ca.crt", "CLUSTER-CA");
  write("namespace", "sluice-system\n");
  ::setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1", 1);
  ::setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto cfg = inClusterConfig(dir_.string());
  ::unsetenv("KUBERNETES_SERVICE_HOST");
  ::unsetenv("KUBERNETES_SERVICE_PORT");
  ASSERT_TRUE(cfg.isOk()) << cfg.status().toString();
  EXPECT_EQ(cfg->server, "https://10.0.0.1:443");
  EXPECT_EQ(cfg->caPem, "CLUSTER-CA");
  EXPECT_EQ(cfg->tokenFile, (dir_ / "token").string());
  EXPECT_EQ(cfg->defaultNamespace, "sluice-system");

  auto missing = inClusterConfig(dir_.string());
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().message(),
            "in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
}

TEST_F(KubeconfigTest, BearerTokenFileIsReReadAfterTheRefreshPeriod) {
  testing::FakeClock clock;
  auto tokenPath = write("token", "first\n");
  ClientConfig cfg;
  cfg.tokenFile = tokenPath;
  BearerToken token(clock, cfg, 1min);
  EXPECT_EQ(token.current().value(), "first");
  write("token", "second\n");
  clock.advance(59s);
  EXPECT_EQ(token.current().value(), "first");
  clock.advance(1s);
  EXPECT_EQ(token.current().value(), "second");
  fs::remove(tokenPath);  // a vanished file keeps the last good token
  clock.advance(2min);
  EXPECT_EQ(token.current().value(), "second");

  ClientConfig staticCfg;
  staticCfg.token = "static";
  BearerToken fixed(clock, staticCfg);
  EXPECT_EQ(fixed.current().value(), "static");
}

}  // namespace
}  // namespace sluice::kube
