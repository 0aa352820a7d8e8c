#include "cli/app.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli/check.h"
#include "cli/cluster.h"
#include "cli/completion.h"
#include "cli/history.h"
#include "cli/invoke.h"
#include "cli/logs.h"
#include "cli/output.h"
#include "cli/templates.h"
#include "sluice/version.h"

namespace sluice::cli {

namespace {

using nlohmann::json;

struct GlobalFlags {
  std::string kubeconfig;
  std::string context;
  std::string ns;
  std::string output;
};

struct Context {
  CliEnvironment& env;
  GlobalFlags global;
  int exit = kExitOk;

  std::ostream& out() { return *env.out; }
  std::ostream& err() { return *env.err; }
  // Prints `status` as "sluice <command>: message" and gives its exit code.
  int fail(const std::string& command, const Status& status, int code = kExitError) {
    err() << "sluice " << command << ": " << status.message() << "\n";
    return code;
  }
  Result<OutputFormat> format() { return parseOutputFormat(global.output); }
  // The cluster, with the namespace: -n, else the kubeconfig context's.
  Result<ClusterConnection> cluster() {
    auto connection = env.connect(global.kubeconfig, global.context);
    if (connection.isOk() && !global.ns.empty()) connection->defaultNamespace = global.ns;
    return connection;
  }
};

// ---- init

struct InitFlags {
  std::string dir;
  std::string templateName = "python";
  std::string name;
  bool force = false;
  bool list = false;
};

int runInit(Context& c, const InitFlags& f) {
  if (f.list) {
    for (const std::string& name : templateNames()) c.out() << name << "\n";
    return kExitOk;
  }
  if (f.dir.empty()) return c.fail("init", invalidArgument("DIR is required"), kExitUsage);
  std::string name = f.name;
  const bool scenario = isScenarioTemplate(f.templateName);
  if (name.empty() && !scenario) name = std::filesystem::path(f.dir).lexically_normal().filename().string();
  if (name == "." || name == "..") name.clear();
  auto files = renderTemplate(f.templateName, name);
  if (!files.isOk()) return c.fail("init", files.status(), kExitUsage);
  if (Status written = writeTemplate(f.dir, *files, f.force); !written.isOk()) {
    return c.fail("init", written, written.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError);
  }
  for (const TemplateFile& file : *files)
    c.out() << "wrote " << (std::filesystem::path(f.dir) / file.name).string() << "\n";
  c.out() << "next: sluice check " << f.dir << " && sluice local " << f.dir << "   (or sluice apply " << f.dir << ")\n";
  return kExitOk;
}

void addInit(CLI::App& app, Context& c, InitFlags& f) {
  CLI::App* sub = app.add_subcommand("init", "Write a new Function directory (function.yaml, trigger.yaml, handler)");
  sub->add_option("dir", f.dir, "The directory to write (created when missing)");
  sub->add_option("-t,--template", f.templateName,
                  "python, pipeline, byo-python, byo-http, or a seed scenario (--list)");
  sub->add_option("--name", f.name, "The Function's name (all but the seed scenarios; default: the directory's name)");
  sub->add_flag("--force", f.force, "Overwrite files that exist");
  sub->add_flag("--list", f.list, "List the templates");
  sub->callback([&c, &f] { c.exit = runInit(c, f); });
}

// ---- check

int runCheck(Context& c, const std::vector<std::string>& paths) {
  auto format = c.format();
  if (!format.isOk()) return c.fail("check", format.status(), kExitUsage);
  json report = {{"paths", paths}, {"files", json::array()}, {"objects", 0}, {"errors", json::array()}};
  for (const std::string& path : paths) {
    CheckReport one = checkPath(path);
    for (const std::string& file : one.files) report["files"].push_back(file);
    for (const std::string& error : one.errors) report["errors"].push_back(error);
    report["objects"] = report["objects"].get<int>() + static_cast<int>(one.objects.size());
  }
  if (*format != OutputFormat::kText) {
    c.out() << render(report, *format);
  } else {
    for (const auto& error : report["errors"]) c.out() << error.get<std::string>() << "\n";
    for (const std::string& path : paths) c.out() << path << (paths.size() > 1 ? " " : "");
    if (report["errors"].empty()) {
      c.out() << ": " << report["objects"] << " object(s), no errors\n";
    } else {
      c.out() << ": " << report["errors"].size() << " error(s)\n";
    }
  }
  return report["errors"].empty() ? kExitOk : kExitUsage;
}

void addCheck(CLI::App& app, Context& c, std::vector<std::string>& paths) {
  CLI::App* sub = app.add_subcommand("check", "Validate manifests offline, as the apiserver would (exit 2 on errors)");
  sub->add_option("paths", paths, "Directories (their *.yaml, *.yml) or files")->required();
  sub->callback([&c, &paths] { c.exit = runCheck(c, paths); });
}

// ---- apply / delete

// The valid objects of `paths`, or the exit code after printing their errors.
std::optional<std::vector<json>> validObjects(Context& c, const std::string& command,
                                              const std::vector<std::string>& paths, int& exit) {
  std::vector<json> objects;
  bool bad = false;
  for (const std::string& path : paths) {
    CheckReport report = checkPath(path);
    for (const std::string& error : report.errors) c.err() << error << "\n";
    bad = bad || !report.errors.empty();
    objects.insert(objects.end(), report.objects.begin(), report.objects.end());
  }
  if (bad) {
    exit = c.fail(command, invalidArgument("the manifests have errors; nothing was sent"), kExitUsage);
    return std::nullopt;
  }
  return objects;
}

void printRows(Context& c, const json& rows, OutputFormat format) {
  if (format != OutputFormat::kText) {
    c.out() << render(rows, format);
    return;
  }
  for (const json& r : rows) {
    c.out() << r["kind"].get<std::string>() << " " << r["namespace"].get<std::string>() << "/"
            << r["name"].get<std::string>() << " " << r["result"].get<std::string>() << "\n";
  }
}

struct ApplyFlags {
  std::vector<std::string> paths;
  bool forceConflicts = false;
  bool ignoreNotFound = false;
  std::vector<std::string> names;
};

int runApply(Context& c, const ApplyFlags& f) {
  auto format = c.format();
  if (!format.isOk()) return c.fail("apply", format.status(), kExitUsage);
  int exit = kExitOk;
  auto objects = validObjects(c, "apply", f.paths, exit);
  if (!objects) return exit;
  auto cluster = c.cluster();
  if (!cluster.isOk()) return c.fail("apply", cluster.status());
  auto rows = applyObjects(*cluster->client, std::move(*objects), cluster->defaultNamespace, f.forceConflicts);
  if (!rows.isOk()) {
    bool unknownKind = rows.status().message().rfind("kind: ", 0) == 0;
    return c.fail("apply", rows.status(), unknownKind ? kExitUsage : kExitError);
  }
  printRows(c, *rows, *format);
  return kExitOk;
}

int runDelete(Context& c, const ApplyFlags& f) {
  auto format = c.format();
  if (!format.isOk()) return c.fail("delete", format.status(), kExitUsage);
  if (f.paths.empty() == f.names.empty()) {
    return c.fail("delete", invalidArgument("name Functions or give -f PATH, not both"), kExitUsage);
  }
  std::vector<json> objects;
  int exit = kExitOk;
  if (!f.paths.empty()) {
    auto valid = validObjects(c, "delete", f.paths, exit);
    if (!valid) return exit;
    objects = std::move(*valid);
  }
  auto cluster = c.cluster();
  if (!cluster.isOk()) return c.fail("delete", cluster.status());
  json rows = json::array();
  Result<json> done = deleteObjects(*cluster->client, objects, cluster->defaultNamespace, f.ignoreNotFound);
  for (size_t i = 0; done.isOk() && i < f.names.size(); ++i) {
    rows.insert(rows.end(), done->begin(), done->end());
    done = deleteFunction(*cluster->client, cluster->defaultNamespace, f.names[i]);
    if (!done.isOk() && done.status().code() == StatusCode::kNotFound && f.ignoreNotFound) done = json::array();
  }
  if (!done.isOk()) return c.fail("delete", done.status());
  rows.insert(rows.end(), done->begin(), done->end());
  printRows(c, rows, *format);
  return kExitOk;
}

void addApplyDelete(CLI::App& app, Context& c, ApplyFlags& a, ApplyFlags& d) {
  CLI::App* apply = app.add_subcommand("apply", "Check, then server-side apply Functions and Triggers to the cluster");
  apply->add_option("paths", a.paths, "Directories or files of manifests")->required();
  apply->add_flag("--force-conflicts", a.forceConflicts, "Take over fields another manager owns");
  apply->callback([&c, &a] { c.exit = runApply(c, a); });
  CLI::App* del = app.add_subcommand("delete", "Delete Functions (with their Triggers) or the objects of manifests");
  del->add_option("names", d.names, "Functions to delete, with the Triggers that name them");
  del->add_option("-f,--filename", d.paths, "Delete the objects of these manifests instead");
  del->add_flag("--ignore-not-found", d.ignoreNotFound, "A missing object is not an error");
  del->callback([&c, &d] { c.exit = runDelete(c, d); });
}

// ---- describe

struct DescribeFlags {
  std::string name;
  std::string prometheus;
};

int runDescribe(Context& c, const DescribeFlags& f) {
  auto format = c.format();
  if (!format.isOk()) return c.fail("describe", format.status(), kExitUsage);
  auto cluster = c.cluster();
  if (!cluster.isOk()) return c.fail("describe", cluster.status());
  auto description = describeFunction(*cluster->client, cluster->defaultNamespace, f.name);
  if (!description.isOk()) return c.fail("describe", description.status());
  if (!f.prometheus.empty()) {
    // Prometheus down is no reason to hide the rest: the field says why it is missing.
    auto history =
        replicaHistory(*c.env.httpClient(), f.prometheus, cluster->defaultNamespace, f.name, c.env.clock->wallNow());
    (*description)["replicasLastHour"] = history.isOk() ? *history : json{{"error", history.status().message()}};
  }
  c.out() << (*format == OutputFormat::kText ? describeText(*description) : render(*description, *format));
  return kExitOk;
}

void addDescribe(CLI::App& app, Context& c, DescribeFlags& f) {
  CLI::App* sub = app.add_subcommand("describe", "A Function: URL, replicas, conditions, Triggers, recent Events");
  sub->add_option("name", f.name, "The Function")->required();
  sub->add_option("--prometheus", f.prometheus,
                  "A Prometheus scraping the operator: replicas over the last hour (env SLUICE_PROMETHEUS_URL)")
      ->envname("SLUICE_PROMETHEUS_URL");
  sub->callback([&c, &f] { c.exit = runDescribe(c, f); });
}

// ---- build

int runBuild(Context& c, BuildOptions options) {
  auto format = c.format();
  if (!format.isOk()) return c.fail("build", format.status(), kExitUsage);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch != nullptr && *epoch != '\0') {
    char* end = nullptr;
    options.sourceDateEpoch = std::strtoll(epoch, &end, 10);
    if (*end != '\0' || options.sourceDateEpoch < 0) {
      return c.fail("build", invalidArgument(std::string("SOURCE_DATE_EPOCH: \"") + epoch + "\" is not seconds"),
                    kExitUsage);
    }
  }
  options.stageRoot =
      (std::filesystem::temp_directory_path() / ("sluice-build-" + std::to_string(::getpid()))).string();
  auto built = buildCodeImage(options, c.env.capture);
  if (!built.isOk()) {
    return c.fail("build", built.status(),
                  built.status().code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError);
  }
  if (*format != OutputFormat::kText) {
    c.out() << render(built->toJson(), *format);
    return kExitOk;
  }
  c.out() << "image   " << built->image << "\ndigest  " << built->digest << "\n";
  for (const std::string& package : built->packages) c.out() << "package " << package << "\n";
  c.out() << "use it as the Function's spec.code: {image: " << built->image << "}\n";
  return kExitOk;
}

void addBuild(CLI::App& app, Context& c, BuildOptions& f) {
  CLI::App* sub = app.add_subcommand(
      "build", "Make a code image of a handler directory with buildah (requirements.txt installed), by digest");
  sub->add_option("dir", f.dir, "The handler's directory (its *.py files, requirements.txt)")->required();
  sub->add_option("--name", f.name, "The image's name: sluice.local/code/NAME:<digest> (default: DIR's name)");
  sub->add_option("--base", f.base, "The image to build FROM (default: " + defaultBuildBase() + ")");
  sub->add_option("--index-url", f.indexUrl, "pip's package index (default: pip's, e.g. $PIP_INDEX_URL)");
  sub->add_option("--python", f.python, "The Python 3.11 whose pip installs requirements.txt (default: python3)");
  sub->callback([&c, &f] { c.exit = runBuild(c, f); });
}

// ---- logs

int runLogs(Context& c, const std::string& name, const LogsOptions& options) {
  auto format = c.format();
  if (!format.isOk() || *format == OutputFormat::kYaml) {
    return c.fail("logs", invalidArgument("--output: logs are text or json (one object per line)"), kExitUsage);
  }
  auto cluster = c.cluster();
  if (!cluster.isOk()) return c.fail("logs", cluster.status());
  const bool asJson = *format == OutputFormat::kJson;
  Status done = functionLogs(
      *cluster->client, *cluster->transport, cluster->defaultNamespace, name, options,
      [&c, asJson](const std::string& pod, const std::string& line) {
        if (asJson) {
          c.out() << nlohmann::json{{"pod", pod}, {"line", line}}.dump() << "\n";
        } else {
          c.out() << "[" << pod << "] " << line << "\n";
        }
        c.out().flush();
      },
      [&c](const Status& s) { c.err() << "sluice logs: " << s.message() << "\n"; });
  return done.isOk() ? kExitOk : c.fail("logs", done);
}

void addLogs(CLI::App& app, Context& c, std::string& name, LogsOptions& options) {
  CLI::App* sub = app.add_subcommand("logs", "The logs of every replica pod of a Function, each line with its pod");
  sub->add_option("name", name, "The Function")->required();
  sub->add_flag("-f,--follow", options.follow,
                "Follow the replicas' logs, and those of replicas that start later, until interrupted");
  sub->add_option("--tail", options.tailLines, "Lines per pod from the end (-1: all)");
  sub->add_option("--request-id", options.requestId, "Only lines naming this request (event) id");
  sub->callback([&c, &name, &options] { c.exit = runLogs(c, name, options); });
}

}  // namespace

// Defined in app_run.cpp: invoke, local, simulate.
void addInvoke(CLI::App& app, CliEnvironment& env, const std::function<std::string()>& ns,
               const std::function<Result<ClusterConnection>()>& cluster, const std::string& output, int& exit);
void addProcesses(CLI::App& app, CliEnvironment& env, int& exit);
// Defined in app_dlq.cpp: dlq ls, dlq redrive.
void addDlq(CLI::App& app, CliEnvironment& env, const std::function<Result<ClusterConnection>()>& cluster,
            const std::string& output, int& exit);

int runCli(const std::vector<std::string>& args, CliEnvironment& env) {
  CLI::App app{"sluice: write, check, deploy and call Sluice Functions"};
  app.name("sluice");
  app.require_subcommand(1);
  app.fallthrough();
  app.set_version_flag("--version", std::string("sluice ") + kVersion);
  app.footer("Exit codes: 0 done; 1 a runtime, cluster or broker error; 2 a usage or validation error (docs/cli.md)");
  Context c{env, {}};
  app.add_option("--kubeconfig", c.global.kubeconfig, "Kubeconfig (default: $KUBECONFIG, else ~/.kube/config)");
  app.add_option("--context", c.global.context, "Kubeconfig context (default: its current-context)");
  app.add_option("-n,--namespace", c.global.ns, "Namespace (default: the context's)");
  app.add_option("-o,--output", c.global.output, "text (default), json or yaml");
  InitFlags init;
  std::vector<std::string> checkPaths;
  ApplyFlags applyFlags;
  ApplyFlags deleteFlags;
  DescribeFlags describeFlags;
  addInit(app, c, init);
  addCheck(app, c, checkPaths);
  addApplyDelete(app, c, applyFlags, deleteFlags);
  addDescribe(app, c, describeFlags);
  BuildOptions buildOptions;
  addBuild(app, c, buildOptions);
  std::string logsName;
  LogsOptions logsOptions;
  addLogs(app, c, logsName, logsOptions);
  addInvoke(
      app, env, [&c] { return c.global.ns; }, [&c] { return c.cluster(); }, c.global.output, c.exit);
  addDlq(
      app, env, [&c] { return c.cluster(); }, c.global.output, c.exit);
  addProcesses(app, env, c.exit);
  app.add_subcommand("version", "Print the version")->callback([&c] { c.out() << "sluice " << kVersion << "\n"; });
  std::string shell;
  CLI::App* completion =
      app.add_subcommand("completion", "Print a shell completion script: source <(sluice completion bash)");
  completion->add_option("shell", shell, "bash or zsh")->required();
  completion->callback([&c, &app, &shell] {
    auto script = completionScript(app, shell);
    c.exit = script.isOk() ? (c.out() << *script, kExitOk) : c.fail("completion", script.status(), kExitUsage);
  });
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::Success& e) {
    return app.exit(e, *env.out, *env.err);  // --help: the help of the subcommand asked about
  } catch (const CLI::ParseError& e) {
    // "A subcommand is required" when the first word is none of them: name that word instead.
    if (app.get_subcommands().empty() && !app.remaining().empty()) {
      *env.err << "sluice: unknown subcommand " << app.remaining().front() << " (sluice --help lists them)\n";
      return kExitUsage;
    }
    *env.err << "sluice: " << e.what() << "\n";
    return kExitUsage;
  }
  return c.exit;
}

}  // namespace sluice::cli
