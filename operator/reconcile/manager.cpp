#include "reconcile/manager.h"

#include <thread>
#include <utility>

#include "common/logging.h"

namespace sluice::reconcile {

Manager::Manager(kube::ResourceClient& client, Clock& clock, ManagerOptions options)
    : client_(client), clock_(clock), options_(std::move(options)) {
  if (options_.leaderElection) elector_ = std::make_unique<LeaderElector>(client_, *options_.leaderElection, clock_);
}

kube::Informer& Manager::informer(const kube::ResourceType& type, const std::string& ns,
                                  kube::InformerOptions options) {
  std::string key = type.apiVersion() + "/" + type.resource + "@" + ns;
  auto& slot = informers_[key];
  if (!slot) {
    options.ns = ns;
    slot = std::make_unique<kube::Informer>(client_, type, options, clock_);
  }
  return *slot;
}

void Manager::add(std::unique_ptr<Controller> controller) { controllers_.push_back(std::move(controller)); }

bool Manager::isLeader() const { return elector_ ? elector_->isLeader() : leading_.load(); }

void Manager::runControllers(std::stop_token stop) {
  leading_ = true;
  SLUICE_LOG_INFO("manager: running {} controllers", controllers_.size());
  {
    std::stop_callback stopped(stop, [this] {
      if (options_.onStoppedLeading) options_.onStoppedLeading();
    });
    std::vector<std::jthread> threads;
    for (auto& controller : controllers_) {
      threads.emplace_back([&controller, stop] { controller->run(stop); });
    }
    // With no controllers there is nothing to join: hold leadership until told to stop.
    if (controllers_.empty()) clock_.sleepUntil(Clock::TimePoint::max(), stop);
  }
  leading_ = false;
}

int Manager::run(std::stop_token stop) {
  for (auto& [key, informer] : informers_) informer->start();
  int exitCode = 0;
  if (elector_) {
    std::stop_source lost;
    bool led = elector_->run(stop, [&](std::stop_token leadership) { runControllers(std::move(leadership)); });
    if (led && !stop.stop_requested()) exitCode = 1;  // leadership lost, not asked to stop
  } else {
    runControllers(stop);
  }
  for (auto& [key, informer] : informers_) informer->stop();
  return exitCode;
}

}  // namespace sluice::reconcile
