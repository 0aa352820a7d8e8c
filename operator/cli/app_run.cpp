// The sluice subcommands that call out: invoke (HTTP), local and simulate
// (sluice-operator as a child process). Wired into the App by app.cpp.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/invoke.h"
#include "cli/local.h"
#include "cli/output.h"
#include "spec/resources.h"

namespace sluice::cli {

namespace {

struct InvokeFlags {
  std::string name;
  std::string local;
  std::string gateway;
  std::string data;
  std::string file;
  std::string method;
  std::string path;
  std::vector<std::string> headers;
  bool async = false;
  int timeoutSeconds = 60;
};

int fail(CliEnvironment& env, const Status& status, int code) {
  *env.err << "sluice invoke: " << status.message() << "\n";
  return code;
}

// The payload of -d or -f (a file, "-" for stdin); an error names the flag.
Status readPayload(CliEnvironment& env, const InvokeFlags& f, InvokeRequest& request) {
  if (!f.data.empty() && !f.file.empty()) return invalidArgument("--data and --file: give one of them");
  if (!f.data.empty()) {
    request.payload = f.data;
    request.hasPayload = true;
  } else if (!f.file.empty()) {
    std::stringstream text;
    if (f.file == "-") {
      text << env.in->rdbuf();
    } else {
      std::ifstream in(f.file, std::ios::binary);
      if (!in) return invalidArgument("--file: cannot read " + f.file);
      text << in.rdbuf();
    }
    request.payload = text.str();
    request.hasPayload = true;
  }
  return Status::ok();
}

// The Function's URL: from --local/--gateway, else its status.url on the cluster.
Result<std::string> functionUrl(const InvokeFlags& f, const std::string& ns,
                                const std::function<Result<ClusterConnection>()>& cluster) {
  if (!f.local.empty() && !f.gateway.empty()) return invalidArgument("--local and --gateway: give one of them");
  const std::string base = f.local.empty() ? f.gateway : f.local;
  if (!base.empty()) return gatewayFunctionUrl(base, ns.empty() ? "default" : ns, f.name);
  auto connection = cluster();
  if (!connection.isOk()) return Status(StatusCode::kUnavailable, connection.status().message());
  const std::string what = "Function " + connection->defaultNamespace + "/" + f.name;
  auto function = connection->client->get(spec::kFunctions, connection->defaultNamespace, f.name);
  if (!function.isOk()) {
    if (function.status().code() == StatusCode::kNotFound) return Status(StatusCode::kNotFound, what + " not found");
    return Status(StatusCode::kUnavailable, what + ": " + function.status().message());
  }
  const nlohmann::json url = function->value("/status/url"_json_pointer, nlohmann::json());
  if (!url.is_string() || url.get<std::string>().empty()) {
    return Status(StatusCode::kFailedPrecondition,
                  what +
                      " has no URL (status.url): it needs an http Trigger and an operator run with "
                      "--gateway-url or --gateway-domain; or pass --gateway URL");
  }
  return url.get<std::string>();
}

// A status.url inside the cluster (a Service's DNS name) does not resolve on a
// workstation: the error says how to reach the gateway instead.
Status withAddressHint(const Status& status, const InvokeFlags& f, const std::string& url) {
  const size_t hostStart = url.find("://") == std::string::npos ? 0 : url.find("://") + 3;
  const std::string host = url.substr(hostStart, url.find_first_of(":/", hostStart) - hostStart);
  const bool internal = host.ends_with(".svc") || host.find(".svc.") != std::string::npos;
  if (!f.local.empty() || !f.gateway.empty() || !internal) return status;
  return Status(status.code(), status.message() + " (" + host +
                                   " is an address inside the cluster: forward a port to the gateway Service, "
                                   "e.g. kubectl port-forward, and pass --gateway http://127.0.0.1:PORT)");
}

int runInvoke(CliEnvironment& env, const InvokeFlags& f, const std::string& ns,
              const std::function<Result<ClusterConnection>()>& cluster, const std::string& output) {
  auto format = parseOutputFormat(output);
  if (!format.isOk()) return fail(env, format.status(), kExitUsage);
  InvokeRequest request;
  request.method = f.method;
  request.path = f.path;
  request.async = f.async;
  request.timeout = std::chrono::seconds(f.timeoutSeconds);
  if (Status read = readPayload(env, f, request); !read.isOk()) return fail(env, read, kExitUsage);
  for (const std::string& header : f.headers) {
    auto parsed = parseHeader(header);
    if (!parsed.isOk()) return fail(env, parsed.status(), kExitUsage);
    request.headers.push_back(*parsed);
  }
  auto url = functionUrl(f, ns, cluster);
  if (!url.isOk()) {
    return fail(env, url.status(), url.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError);
  }
  request.url = *url;
  auto result = invoke(*env.httpClient(), *env.clock, request);
  if (!result.isOk()) return fail(env, withAddressHint(result.status(), f, *url), kExitError);
  *env.out << (*format == OutputFormat::kText ? invokeText(*result) : render(*result, *format));
  return (*result)["status"].get<int>() >= 400 ? kExitError : kExitOk;
}

// `sluice local DIR [operator flags...]`: the operator's exit code.
int runLocal(CliEnvironment& env, const std::string& dir, const std::vector<std::string>& extra) {
  const std::string stage =
      (std::filesystem::temp_directory_path() / ("sluice-cli-local-" + std::to_string(::getpid()))).string();
  auto directory = localDirectory(dir, stage);
  if (!directory.isOk()) {
    *env.err << directory.status().message() << "\nsluice local: " << dir << " has errors; nothing was started\n";
    return kExitUsage;
  }
  std::vector<std::string> argv = {env.operatorBinary, "--local", *directory};
  argv.insert(argv.end(), extra.begin(), extra.end());
  int code = env.run(argv);
  std::error_code ec;
  if (*directory == stage) std::filesystem::remove_all(stage, ec);
  return code;
}

}  // namespace

void addInvoke(CLI::App& app, CliEnvironment& env, const std::function<std::string()>& ns,
               const std::function<Result<ClusterConnection>()>& cluster, const std::string& output, int& exit) {
  auto f = std::make_shared<InvokeFlags>();
  CLI::App* sub =
      app.add_subcommand("invoke", "Call a Function through the gateway; print status, headers, body, time");
  sub->add_option("name", f->name, "The Function")->required();
  sub->add_option("--local", f->local, "The gateway URL of a `sluice local` run (e.g. http://127.0.0.1:8088)");
  sub->add_option("--gateway", f->gateway, "A gateway base URL, instead of the Function's status.url");
  sub->add_option("-d,--data", f->data, "The payload");
  sub->add_option("-f,--file", f->file, "The payload from a file (- for stdin)");
  sub->add_option("-X,--method", f->method, "HTTP method (default POST with a payload, else GET)");
  sub->add_option("-H,--header", f->headers, "A request header, \"Name: value\" (repeatable)");
  sub->add_option("--path", f->path, "Appended to the Function's URL (/items?id=1)");
  sub->add_flag("--async", f->async, "Asynchronous invocation: 202 once the request is kept");
  sub->add_option("--timeout", f->timeoutSeconds, "Seconds to wait for the answer")->check(CLI::Range(1, 3600));
  sub->callback([&env, f, ns, cluster, &output, &exit] { exit = runInvoke(env, *f, ns(), cluster, output); });
}

void addProcesses(CLI::App& app, CliEnvironment& env, int& exit) {
  auto dir = std::make_shared<std::string>();
  CLI::App* local = app.add_subcommand("local", "Run a directory on this machine (sluice-operator --local DIR)");
  local->add_option("dir", *dir, "The directory of manifests")->required();
  // Everything after DIR is the operator's: no fallthrough to sluice's own flags.
  local->prefix_command();
  local->fallthrough(false);
  local->callback([&env, dir, local, &exit] { exit = runLocal(env, *dir, local->remaining()); });
  CLI::App* simulate =
      app.add_subcommand("simulate", "Run the autoscaler on a trace (sluice-operator simulate; same flags)");
  simulate->prefix_command();
  simulate->fallthrough(false);
  simulate->callback([&env, simulate, &exit] {
    std::vector<std::string> argv = {env.operatorBinary, "simulate"};
    for (const std::string& arg : simulate->remaining()) argv.push_back(arg);
    exit = env.run(argv);
  });
}

}  // namespace sluice::cli
