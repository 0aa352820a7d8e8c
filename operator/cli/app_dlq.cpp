// `sluice dlq ls` and `sluice dlq redrive` (cli/dlq.h): parsed here, wired
// into the App by app.cpp. Exit codes as app.h says: 2 for flags (--all with
// --id, neither, a bad --output, a --trigger of another Function), 1 for the
// rest (no Function, no dead letter, a broker that fails, an --id not found, a
// record of a Function's spec.deadLetter whose Trigger is gone or takes nothing back).
#include <map>
#include <memory>
#include <set>

#include <CLI/CLI.hpp>

#include "cli/app.h"
#include "cli/output.h"

namespace sluice::cli {

namespace {

using nlohmann::json;

constexpr const char* kDlqExitCodes =
    "Exit codes: 0 done; 1 no such Function or Trigger, no dead letter dlq can read (spec.delivery.deadLetter, "
    "spec.deadLetter), a Secret missing, a broker error, an --id not in the dead letter, a spec.deadLetter record "
    "whose Trigger cannot take it back; 2 bad flags (--all with --id, neither, a --trigger of another Function, "
    "several dead letters and no --trigger)";

struct DlqFlags {
  std::string function;
  std::string trigger;
  size_t limit = 100;
  bool all = false;
  std::vector<std::string> ids;
  bool dryRun = false;
};

struct DlqContext {
  CliEnvironment& env;
  std::function<Result<ClusterConnection>()> cluster;
  const std::string& output;
  int& exit;

  int fail(const std::string& command, const Status& status) {
    *env.err << "sluice dlq " << command << ": " << status.message() << "\n";
    return status.code() == StatusCode::kInvalidArgument ? kExitUsage : kExitError;
  }
};

Result<DlqPlan> planOf(DlqContext& c, const DlqFlags& f) {
  auto connection = c.cluster();
  if (!connection.isOk()) return Status(StatusCode::kUnavailable, connection.status().message());
  return resolveDlq(*connection->client, connection->defaultNamespace, f.function, f.trigger);
}

json header(const DlqPlan& plan) {
  return {{"namespace", plan.ns},
          {"function", plan.function},
          {"trigger", plan.trigger},
          {"deadLetterField", plan.deadLetterField()},
          {"deadLetter", plan.deadLetterName()},
          {"source", plan.sourceName()}};
}

// A Function's spec.deadLetter with --trigger holds other Triggers' records too: only that one's are meant.
bool meant(const DlqPlan& plan, const DeadLetter& letter) {
  return !plan.functionLevel || plan.trigger.empty() || letter.trigger == plan.trigger;
}

// Redrives each record of a Function's spec.deadLetter into the source of the Trigger that
// dead-lettered it (x-sluice-trigger), opening each source once, when first needed.
class RoutingReinjector final : public Reinjector {
 public:
  RoutingReinjector(const DlqPlan& plan, CliEnvironment& env) : plan_(plan), env_(env) {}
  Status reinject(const DeadLetter& letter) override {
    const DlqPlan* route = plan_.routeOf(letter.trigger);
    if (route == nullptr) return Status(StatusCode::kInternal, "no route for trigger " + letter.trigger);
    auto& into = opened_[route->trigger];
    if (!into) {
      auto opened = env_.openReinjector(*route);
      if (!opened.isOk()) return opened.status().withContext(route->sourceName());
      into = std::move(opened).value();
    }
    return into->reinject(letter);
  }

 private:
  const DlqPlan& plan_;
  CliEnvironment& env_;
  std::map<std::string, std::unique_ptr<Reinjector>> opened_;
};

// Why a Function-level dead letter cannot go back: its Trigger is gone, has a dead letter of its own
// now, or has a source that takes nothing back.
std::string unroutable(const DlqPlan& plan, const std::string& trigger) {
  for (const DlqPlan& route : plan.routes) {
    if (route.trigger == trigger) return route.sourceRefusal;
  }
  return "x-sluice-trigger \"" + trigger + "\" is not a Trigger of Function " + plan.ns + "/" + plan.function +
         " without a dead letter of its own";
}

int runList(DlqContext& c, const DlqFlags& f) {
  auto format = parseOutputFormat(c.output);
  if (!format.isOk()) return c.fail("ls", format.status());
  auto plan = planOf(c, f);
  if (!plan.isOk()) return c.fail("ls", plan.status());
  auto store = c.env.openDeadLetters(*plan);
  if (!store.isOk()) return c.fail("ls", store.status());
  // One more than shown says whether there are more; with a filter, all are read and the Trigger's kept.
  const bool filtered = plan->functionLevel && !plan->trigger.empty();
  auto letters = (*store)->list(f.limit == 0 || filtered ? 0 : f.limit + 1);
  if (!letters.isOk()) return c.fail("ls", letters.status());
  std::erase_if(*letters, [&](const DeadLetter& l) { return !meant(*plan, l); });
  json listing = header(*plan);
  listing["truncated"] = f.limit != 0 && letters->size() > f.limit;
  if (listing["truncated"].get<bool>()) letters->resize(f.limit);
  listing["items"] = json::array();
  for (const DeadLetter& letter : *letters) listing["items"].push_back(deadLetterJson(letter, c.env.clock->wallNow()));
  *c.env.out << (*format == OutputFormat::kText ? dlqListText(listing) : render(listing, *format));
  return kExitOk;
}

std::string redriveText(const json& report) {
  std::string out;
  const bool dry = report["dryRun"].get<bool>();
  for (const json& item : report["redriven"]) {
    const std::string id = item["id"].get<std::string>();
    out += std::string(dry ? "would redrive " : "redriven ") + (id.empty() ? item["position"].get<std::string>() : id) +
           "\n";
  }
  const size_t n = report["redriven"].size();
  out += std::string(dry ? "would redrive " : "redrove ") + std::to_string(n) + " dead letter" + (n == 1 ? "" : "s") +
         " of " + ownerText(report) + " from " + report["deadLetter"].get<std::string>() + " into " +
         report["source"].get<std::string>() + "\n";
  return out;
}

int runRedrive(DlqContext& c, const DlqFlags& f) {
  auto format = parseOutputFormat(c.output);
  if (!format.isOk()) return c.fail("redrive", format.status());
  if (f.all == !f.ids.empty()) return c.fail("redrive", invalidArgument("--all or --id: give one of them"));
  auto plan = planOf(c, f);
  if (!plan.isOk()) return c.fail("redrive", plan.status());
  if (!plan->functionLevel && !plan->sourceRefusal.empty()) {
    return c.fail("redrive", Status(StatusCode::kFailedPrecondition, plan->sourceRefusal));
  }
  auto store = c.env.openDeadLetters(*plan);
  if (!store.isOk()) return c.fail("redrive", store.status());
  std::unique_ptr<Reinjector> into;
  if (!f.dryRun && plan->functionLevel) {
    into = std::make_unique<RoutingReinjector>(*plan, c.env);
  } else if (!f.dryRun) {
    auto opened = c.env.openReinjector(*plan);
    if (!opened.isOk()) return c.fail("redrive", opened.status().withContext(plan->sourceName()));
    into = std::move(opened).value();
  }
  const std::set<std::string> wanted(f.ids.begin(), f.ids.end());
  std::set<std::string> found;
  std::map<std::string, std::string> left;  // a Function-level dead letter with nowhere to go -> why
  auto chosen = [&](const DeadLetter& letter) {
    if (!meant(*plan, letter)) return false;
    const bool pick = f.all || wanted.contains(letter.id) || wanted.contains(letter.position);
    if (pick && plan->functionLevel && plan->routeOf(letter.trigger) == nullptr) {
      left[letter.id.empty() ? letter.position : letter.id] = unroutable(*plan, letter.trigger);
      return false;
    }
    if (pick && !f.all) found.insert(wanted.contains(letter.id) ? letter.id : letter.position);
    return pick;
  };
  auto redriven = (*store)->redrive(chosen, into.get());
  if (!redriven.isOk()) return c.fail("redrive", redriven.status());
  json report = header(*plan);
  report["dryRun"] = f.dryRun;
  report["redriven"] = json::array();
  for (const DeadLetter& letter : *redriven)
    report["redriven"].push_back(deadLetterJson(letter, c.env.clock->wallNow()));
  *c.env.out << (*format == OutputFormat::kText ? redriveText(report) : render(report, *format));
  if (!left.empty()) {
    return c.fail("redrive", Status(StatusCode::kFailedPrecondition,
                                    std::to_string(left.size()) + " left in " + plan->deadLetterName() + ", first " +
                                        left.begin()->first + ": " + left.begin()->second));
  }
  for (const std::string& id : wanted) {
    if (left.contains(id)) continue;
    if (!found.contains(id)) {
      return c.fail("redrive",
                    Status(StatusCode::kNotFound, "--id " + id + ": no such dead letter in " + plan->deadLetterName()));
    }
  }
  return kExitOk;
}

}  // namespace

void addDlq(CLI::App& app, CliEnvironment& env, const std::function<Result<ClusterConnection>()>& cluster,
            const std::string& output, int& exit) {
  auto f = std::make_shared<DlqFlags>();
  auto c = std::make_shared<DlqContext>(DlqContext{env, cluster, output, exit});
  CLI::App* dlq =
      app.add_subcommand("dlq", "A Trigger's or Function's dead letter: list it, redrive it into the Trigger's source");
  dlq->require_subcommand(1);
  CLI::App* ls = dlq->add_subcommand("ls", "List the dead letters (id, attempts, age, size, error) without consuming");
  ls->add_option("name", f->function, "The Function")->required();
  ls->add_option("--trigger", f->trigger,
                 "The Trigger (default: the Function's one dead letter, a Trigger's or its spec.deadLetter)");
  ls->add_option("--limit", f->limit, "At most this many, oldest first (0: all)");
  ls->callback([c, f] { c->exit = runList(*c, *f); });
  ls->footer(kDlqExitCodes);
  CLI::App* redrive = dlq->add_subcommand(
      "redrive", "Put dead letters back into the Trigger's source, each confirmed before it leaves the dead letter");
  redrive->add_option("name", f->function, "The Function")->required();
  redrive->add_option("--trigger", f->trigger,
                      "The Trigger (default: the Function's one dead letter, a Trigger's or its spec.deadLetter)");
  redrive->add_flag("--all", f->all, "Every dead letter there now");
  redrive->add_option("--id", f->ids, "A dead letter's id (x-sluice-event-id) or position (repeatable)");
  redrive->add_flag("--dry-run", f->dryRun, "Print what would be redriven; change nothing");
  redrive->callback([c, f] { c->exit = runRedrive(*c, *f); });
  redrive->footer(kDlqExitCodes);
}

}  // namespace sluice::cli
