// Trust boundaries of the sluice-runtime BINARY (issue 15):
// - /invoke lives on the data port only and needs the invoke token: without
//   it (a plain push, a forged X-Sluice-Event-Type: cron.tick) or with a wrong
//   one the answer is 401; an authenticated call naming no trigger of the
//   function is 404; /specialize and /drain are not on the data port, /invoke
//   is not on the control port. Not one record reaches the real Kafka output
//   topic, while an authenticated cron tick does (so the topic is read right).
// - The tokens are gone from the handler's view: a Python handler in a warm
//   replica (the interpreter starts before /specialize) finds neither in
//   os.environ, /proc/self/environ, a child process's environment or its
//   event's headers, though /specialize used the control token.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/http_client.h"
#include "kafka_test_util.h"
#include "runtime_process.h"
#include "tls/certificates.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kTickHandler = R"PY(
def main_handler(event, context):
    return "tick " + event["data"]
)PY";

json functionConfig(const std::string& dir, const json& outputs) {
  return {{"name", "guarded"},
          {"runtime", "python3.11"},
          {"codeDir", dir + "/code"},
          {"handler", "index.main_handler"},
          {"outputs", outputs},
          {"triggers", json::array({{{"name", "web"}, {"http", json::object()}},
                                    {{"name", "nightly"}, {"cron", {{"schedule", "0 0 * * *"}}}}})}};
}

TEST(RuntimeBinaryTrustTest, UnauthenticatedOrUnknownInvocationsWriteNothing) {
  const std::string bootstrap = requiredEnv("KAFKA_BOOTSTRAP");
  const std::string out = uniqueName("trust-out");
  createTopic(bootstrap, out, 1);
  const std::string dir = makeTempDir("rttrust");
  std::filesystem::create_directories(dir + "/code");
  writeFile(dir + "/code/index.py", kTickHandler);
  json config = functionConfig(
      dir, json::array({{{"name", "out"}, {"kafka", {{"bootstrapServers", bootstrap}, {"topic", out}}}}}));
  writeFile(dir + "/function.json", config.dump(2));
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--config", dir + "/function.json"}, dir + "/runtime.log",
                {{"SLUICE_SPECIALIZE_TOKEN", "control-secret-1"}});
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  const int data = runtime.dataPort();
  const std::vector<std::pair<std::string, std::string>> tick = {{"X-Sluice-Trigger", "nightly"},
                                                                 {"X-Sluice-Event-Type", "cron.tick"}};

  HttpReply plain = invokeReplica(data, "plain", {}, "");
  EXPECT_EQ(plain.code, 401);
  EXPECT_EQ(plain.body, "missing X-Sluice-Invoke-Token\n");
  HttpReply forged = invokeReplica(data, "forged", tick, "");
  EXPECT_EQ(forged.code, 401);
  HttpReply wrong = invokeReplica(data, "wrong", tick, "not-the-token");
  EXPECT_EQ(wrong.code, 401);
  EXPECT_EQ(wrong.body, "wrong X-Sluice-Invoke-Token\n");
  // The control token does not open the data port.
  EXPECT_EQ(invokeReplica(data, "control", tick, "control-secret-1").code, 401);

  HttpReply bogus = invokeReplica(data, "bogus", {{"X-Sluice-Trigger", "bogus"}, {"X-Sluice-Event-Type", "cron.tick"}});
  EXPECT_EQ(bogus.code, 404);
  EXPECT_EQ(bogus.body, "NotFound: the function has no cron trigger named \"bogus\"\n");
  EXPECT_EQ(
      invokeReplica(data, "tick on http", {{"X-Sluice-Trigger", "web"}, {"X-Sluice-Event-Type", "cron.tick"}}).code,
      404);
  EXPECT_EQ(invokeReplica(data, "push on cron", {{"X-Sluice-Trigger", "nightly"}}).code, 404);

  // Each endpoint on its own port only.
  EXPECT_EQ(httpPost(data, "/specialize", "{}", "Bearer control-secret-1").code, 404);
  EXPECT_EQ(httpPost(data, "/drain", "", "Bearer control-secret-1").code, 404);
  EXPECT_EQ(httpGet(data, "/metrics").code, 404);
  EXPECT_EQ(httpPost(runtime.port(), "/invoke", "x").code, 404);

  EXPECT_TRUE(consumeAll(bootstrap, out, 0, 3s, 5s).empty()) << "a refused invocation wrote a record";
  HttpReply honest = invokeReplica(data, "honest", tick);
  EXPECT_EQ(honest.code, 204) << honest.body;
  auto records = consumeAll(bootstrap, out, 1, 2s, 30s);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "tick honest");

  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  std::filesystem::remove_all(dir);
}

constexpr const char* kSnoopingHandler = R"PY(
import json, os, subprocess

def main_handler(event, context):
    with open("/proc/self/environ", "rb") as f:
        proc = f.read().decode("latin-1")
    child = subprocess.run(["env"], capture_output=True, text=True).stdout
    return json.dumps({
        "specialize": os.environ.get("SLUICE_SPECIALIZE_TOKEN"),
        "invoke": os.environ.get("SLUICE_INVOKE_TOKEN"),
        "environ": dict(os.environ),
        "proc": proc,
        "child": child,
        "event": event,
    }, default=str)
)PY";

TEST(RuntimeBinaryTrustTest, AHandlerFindsNoTokenInItsEnvironment) {
  const std::string dir = makeTempDir("rtsnoop");
  std::filesystem::create_directories(dir + "/code");
  writeFile(dir + "/code/index.py", kSnoopingHandler);
  json config = functionConfig(dir, json::array());
  config["outputs"] = json::array();
  const std::string controlToken = "control-secret-do-not-leak-42";
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--warm"}, dir + "/runtime.log",
                {{"SLUICE_SPECIALIZE_TOKEN", controlToken}, {"SLUICE_MARKER", "visible"}});
  ASSERT_TRUE(runtime.waitReady(60s)) << runtime.log();
  // The process's start-up environment, as anyone in the pod would read it.
  const std::string procEnviron = readFile("/proc/" + std::to_string(runtime.pid()) + "/environ");
  EXPECT_NE(procEnviron.find("SLUICE_MARKER=visible"), std::string::npos);
  EXPECT_EQ(procEnviron.find(controlToken), std::string::npos);
  EXPECT_EQ(procEnviron.find(kTestInvokeToken), std::string::npos);

  HttpReply specialized = httpPost(runtime.port(), "/specialize", config.dump(), "Bearer " + controlToken);
  ASSERT_EQ(specialized.code, 200) << specialized.body << runtime.log();
  HttpReply reply = invokeReplica(runtime.dataPort(), "look");
  ASSERT_EQ(reply.code, 200) << reply.body;
  json seen = json::parse(reply.body);
  EXPECT_TRUE(seen["specialize"].is_null());
  EXPECT_TRUE(seen["invoke"].is_null());
  EXPECT_EQ(seen["environ"].value("SLUICE_MARKER", ""), "visible") << "the handler did read its environment";
  EXPECT_NE(seen["child"].get<std::string>().find("SLUICE_MARKER=visible"), std::string::npos);
  for (const std::string& token : {controlToken, std::string(kTestInvokeToken)}) {
    EXPECT_EQ(reply.body.find(token), std::string::npos) << "the handler found " << token << ": " << reply.body;
  }
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  std::filesystem::remove_all(dir);
}

// With a serving certificate (SLUICE_CONTROL_TLS_CERT/KEY, as the operator's
// pods get them) the control port speaks HTTPS only, and the key is scrubbed
// like the tokens: the handler finds it nowhere.
TEST(RuntimeBinaryTrustTest, TheControlPortServesTlsAndAHandlerFindsNoKey) {
  const auto now = std::chrono::system_clock::now();
  auto ca = tls::makeCertificateAuthority("trust test CA", std::chrono::hours(24), now);
  ASSERT_TRUE(ca.isOk()) << ca.status().toString();
  auto leaf = tls::issueServingCertificate(*ca, "sluice-replica.trust", std::chrono::hours(24), now);
  ASSERT_TRUE(leaf.isOk()) << leaf.status().toString();
  // A line of the key's base64 body: what a handler would have to find.
  const std::string keyLine = leaf->privateKeyPem.substr(leaf->privateKeyPem.find('\n') + 1, 40);
  const std::string dir = makeTempDir("rttls");
  std::filesystem::create_directories(dir + "/code");
  writeFile(dir + "/code/index.py", kSnoopingHandler);
  json config = functionConfig(dir, json::array());
  config["outputs"] = json::array();
  const std::string controlToken = "control-secret-over-tls-7";
  RuntimeProcess runtime;
  runtime.start(freeLoopbackPort(), {"--warm"}, dir + "/runtime.log",
                {{"SLUICE_SPECIALIZE_TOKEN", controlToken},
                 {"SLUICE_CONTROL_TLS_CERT", leaf->certificatePem},
                 {"SLUICE_CONTROL_TLS_KEY", leaf->privateKeyPem}});
  auto client = http::makeTlsHttpClient([&] { return ca->certificatePem; });
  auto control = [&](const std::string& method, const std::string& path, const std::string& body) {
    http::Request request;
    request.method = method;
    request.url = "https://127.0.0.1:" + std::to_string(runtime.port()) + path;
    request.tlsServerName = "sluice-replica.trust";
    request.headers = {{"Authorization", "Bearer " + controlToken}};
    request.body = body;
    request.timeout = 30s;
    return client->send(request);
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  Result<http::Response> ready = unavailable("not asked yet");
  while (std::chrono::steady_clock::now() < deadline) {
    ready = control("GET", "/readyz", "");
    if (ready.isOk() && ready->status == 200) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(ready.isOk() && ready->status == 200) << runtime.log();
  EXPECT_EQ(httpGet(runtime.port(), "/readyz").code, 0) << "plain HTTP gets no answer from the control port";
  const std::string procEnviron = readFile("/proc/" + std::to_string(runtime.pid()) + "/environ");
  EXPECT_EQ(procEnviron.find(keyLine), std::string::npos);
  EXPECT_EQ(procEnviron.find("PRIVATE KEY"), std::string::npos);

  auto specialized = control("POST", "/specialize", config.dump());
  ASSERT_TRUE(specialized.isOk()) << specialized.status().toString();
  ASSERT_EQ(specialized->status, 200) << specialized->body << runtime.log();
  HttpReply reply = invokeReplica(runtime.dataPort(), "look");
  ASSERT_EQ(reply.code, 200) << reply.body << " (the data port stays plain HTTP)";
  json seen = json::parse(reply.body);
  EXPECT_FALSE(seen["environ"].contains("SLUICE_CONTROL_TLS_KEY"));
  EXPECT_FALSE(seen["environ"].contains("SLUICE_CONTROL_TLS_CERT"));
  EXPECT_EQ(reply.body.find(keyLine), std::string::npos) << "the handler found the key: " << reply.body;
  EXPECT_EQ(reply.body.find("PRIVATE KEY"), std::string::npos) << reply.body;
  runtime.signal(SIGTERM);
  EXPECT_EQ(runtime.waitFor(60s), 0) << runtime.log();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice::testing
