#include "kube/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "common/encoding.h"

namespace sluice::kube {
namespace {

std::string trimTrailingSlash(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

std::string trimSpace(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  auto end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

// Reads kubeconfig fields with errors that name the file and the field path.
class KubeconfigReader {
 public:
  explicit KubeconfigReader(std::string path) : path_(std::move(path)) {
    std::filesystem::path p(path_);
    dir_ = p.has_parent_path() ? p.parent_path().string() : ".";
  }

  Status error(const std::string& field, const std::string& problem) const {
    return invalidArgument("kubeconfig " + path_ + ": " + field + ": " + problem);
  }

  // Optional string field; an error if present but not a scalar.
  Result<std::string> optionalString(const YAML::Node& parent, const std::string& key, const std::string& field) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) return std::string();
    if (!node.IsScalar()) return error(field + "." + key, "must be a string");
    return node.as<std::string>();
  }

  Result<bool> optionalBool(const YAML::Node& parent, const std::string& key, const std::string& field) const {
    YAML::Node node = parent[key];
    if (!node || node.IsNull()) return false;
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value)) {
      return error(field + "." + key, "must be true or false, got \"" + (node.IsScalar() ? node.Scalar() : "?") + "\"");
    }
    return value;
  }

  // Finds entry `name` in the named list (clusters/contexts/users) and returns its inner map.
  Result<YAML::Node> findNamed(const YAML::Node& root, const std::string& list, const std::string& inner,
                               const std::string& name, const std::string& referencedFrom) const {
    YAML::Node entries = root[list];
    if (entries && !entries.IsNull() && !entries.IsSequence()) return error(list, "must be a list");
    if (entries && entries.IsSequence()) {
      for (size_t i = 0; i < entries.size(); ++i) {
        YAML::Node entry = entries[i];
        if (!entry.IsMap()) return error(list + "[" + std::to_string(i) + "]", "must be a map with name and " + inner);
        auto entryName = optionalString(entry, "name", list + "[" + std::to_string(i) + "]");
        if (!entryName) return entryName.status();
        if (*entryName != name) continue;
        YAML::Node body = entry[inner];
        if (!body || !body.IsMap()) return error(list + "[name=" + name + "]." + inner, "missing or not a map");
        return body;
      }
    }
    return error(referencedFrom, "\"" + name + "\" not found in " + list);
  }

  // "<key>" (a file path) or "<key>-data" (base64); the file wins when both are set, as in client-go.
  Result<std::string> fileOrData(const YAML::Node& parent, const std::string& key, const std::string& field) const {
    auto file = optionalString(parent, key, field);
    if (!file) return file.status();
    if (!file->empty()) {
      std::filesystem::path p(*file);
      if (p.is_relative()) p = std::filesystem::path(dir_) / p;
      auto contents = readFile(p.string());
      if (!contents) return error(field + "." + key, contents.status().message());
      return contents;
    }
    auto data = optionalString(parent, key + "-data", field);
    if (!data) return data.status();
    if (data->empty()) return std::string();
    auto decoded = base64Decode(*data);
    if (!decoded) return error(field + "." + key + "-data", decoded.status().message());
    return decoded;
  }

  std::string resolve(const std::string& file) const {
    std::filesystem::path p(file);
    if (p.is_relative()) p = std::filesystem::path(dir_) / p;
    return p.string();
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string dir_;
};

}  // namespace

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return notFound("cannot read file " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return unavailable("error reading file " + path);
  return buffer.str();
}

Result<ClientConfig> loadKubeconfig(const std::string& path, const std::string& context) {
  if (path.empty()) return invalidArgument("no kubeconfig path given (set --kubeconfig or KUBECONFIG)");
  auto text = readFile(path);
  if (!text) return Status(text.status().code(), "kubeconfig " + path + ": " + text.status().message());
  return parseKubeconfig(*text, path, context);
}

namespace {

// The context's cluster: server URL, CA, TLS verification.
Status readCluster(KubeconfigReader& reader, const YAML::Node& root, const YAML::Node& context,
                   const std::string& ctxField, ClientConfig& config) {
  auto clusterName = reader.optionalString(context, "cluster", ctxField);
  if (!clusterName) return clusterName.status();
  if (clusterName->empty()) return reader.error(ctxField + ".cluster", "missing");
  auto cluster = reader.findNamed(root, "clusters", "cluster", *clusterName, ctxField + ".cluster");
  if (!cluster) return cluster.status();
  std::string clusterField = "clusters[name=" + *clusterName + "].cluster";

  auto server = reader.optionalString(*cluster, "server", clusterField);
  if (!server) return server.status();
  if (server->empty()) return reader.error(clusterField + ".server", "missing");
  if (server->rfind("https://", 0) != 0 && server->rfind("http://", 0) != 0) {
    return reader.error(clusterField + ".server", "\"" + *server + "\" is not an http(s) URL");
  }
  config.server = trimTrailingSlash(*server);
  auto ca = reader.fileOrData(*cluster, "certificate-authority", clusterField);
  if (!ca) return ca.status();
  config.caPem = *ca;
  auto insecure = reader.optionalBool(*cluster, "insecure-skip-tls-verify", clusterField);
  if (!insecure) return insecure.status();
  config.insecureSkipTlsVerify = *insecure;

  return Status::ok();
}

// The context's user, if it names one: client certificate and key, token or token file.
Status readUser(KubeconfigReader& reader, const YAML::Node& root, const YAML::Node& context,
                const std::string& ctxField, ClientConfig& config) {
  auto userName = reader.optionalString(context, "user", ctxField);
  if (!userName) return userName.status();
  if (!userName->empty()) {
    auto user = reader.findNamed(root, "users", "user", *userName, ctxField + ".user");
    if (!user) return user.status();
    std::string userField = "users[name=" + *userName + "].user";
    auto cert = reader.fileOrData(*user, "client-certificate", userField);
    if (!cert) return cert.status();
    auto key = reader.fileOrData(*user, "client-key", userField);
    if (!key) return key.status();
    if (!cert->empty() && key->empty())
      return reader.error(userField + ".client-key", "missing (client-certificate is set)");
    if (cert->empty() && !key->empty())
      return reader.error(userField + ".client-certificate", "missing (client-key is set)");
    config.clientCertPem = *cert;
    config.clientKeyPem = *key;
    auto token = reader.optionalString(*user, "token", userField);
    if (!token) return token.status();
    config.token = *token;
    auto tokenFile = reader.optionalString(*user, "tokenFile", userField);
    if (!tokenFile) return tokenFile.status();
    if (!tokenFile->empty()) {
      config.tokenFile = reader.resolve(*tokenFile);
      // Read once now so a missing file is reported at startup, naming the field.
      auto contents = readFile(config.tokenFile);
      if (!contents) return reader.error(userField + ".tokenFile", contents.status().message());
      if (trimSpace(*contents).empty())
        return reader.error(userField + ".tokenFile", "file " + config.tokenFile + " is empty");
    }
  }
  return Status::ok();
}

}  // namespace

Result<ClientConfig> parseKubeconfig(const std::string& text, const std::string& path, const std::string& context) {
  KubeconfigReader reader(path);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return reader.error("(document)", std::string("not valid YAML: ") + e.what());
  }
  if (!root.IsMap()) return reader.error("(document)", "must be a YAML map");

  std::string contextName = context;
  if (contextName.empty()) {
    auto current = reader.optionalString(root, "current-context", "(document)");
    if (!current) return current.status();
    contextName = *current;
  }
  if (contextName.empty()) return reader.error("current-context", "not set and no context was given");
  std::string contextField = context.empty() ? "current-context" : "context";

  auto ctx = reader.findNamed(root, "contexts", "context", contextName, contextField);
  if (!ctx) return ctx.status();
  std::string ctxField = "contexts[name=" + contextName + "].context";

  ClientConfig config;
  config.origin = "kubeconfig " + path + " (context " + contextName + ")";

  if (Status s = readCluster(reader, root, *ctx, ctxField, config); !s.isOk()) return s;
  auto ns = reader.optionalString(*ctx, "namespace", ctxField);
  if (!ns) return ns.status();
  if (!ns->empty()) config.defaultNamespace = *ns;

  if (Status s = readUser(reader, root, *ctx, ctxField, config); !s.isOk()) return s;
  return config;
}

Result<ClientConfig> inClusterConfig(const std::string& serviceAccountDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return invalidArgument("in-cluster config: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set");
  }
  ClientConfig config;
  config.origin = "in-cluster";
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  config.server = "https://" + h + ":" + port;
  config.tokenFile = serviceAccountDir + "/token";
  auto token = readFile(config.tokenFile);
  if (!token) return token.status().withContext("in-cluster config: token");
  auto ca = readFile(serviceAccountDir + "/ca.crt");
  if (!ca) return ca.status().withContext("in-cluster config: CA");
  config.caPem = *ca;
  if (auto ns = readFile(serviceAccountDir + "/namespace"); ns && !trimSpace(*ns).empty()) {
    config.defaultNamespace = trimSpace(*ns);
  }
  return config;
}

BearerToken::BearerToken(Clock& clock, const ClientConfig& config, Clock::Duration refresh)
    : clock_(clock), staticToken_(config.token), file_(config.tokenFile), refresh_(refresh) {}

Result<std::string> BearerToken::current() {
  if (file_.empty()) return staticToken_;
  std::lock_guard lock(mu_);
  auto now = clock_.now();
  if (haveRead_ && now - readAt_ < refresh_) return cached_;
  auto contents = readFile(file_);
  if (!contents) {
    if (haveRead_) return cached_;  // keep the last good token through a transient failure
    return contents.status().withContext("bearer token file");
  }
  cached_ = trimSpace(*contents);
  readAt_ = now;
  haveRead_ = true;
  return cached_;
}

}  // namespace sluice::kube
