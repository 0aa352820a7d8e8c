#include "reconcile/manager.h"

#include <thread>
#include <utility>

#include "common/logging.h"

namespace sluice::reconcile {

Manager::Manager(kube::ResourceClient& client, Clock& clock, ManagerOptions options)
    : client_(client), clock_(clock), options_(std::move(options)) {
  if (options_.sharding && options_.sharding->shards > 1) {
    shards_ = std::make_unique<ShardElector>(client_, *options_.sharding, clock_);
  } else if (options_.leaderElection) {
    elector_ = std::make_unique<LeaderElector>(client_, *options_.leaderElection, clock_);
  }
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

bool Manager::isLeader() const {
  if (shards_) return shards_->holds(0);
  return elector_ ? elector_->isLeader() : leading_.load();
}

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

KeyFilter Manager::ownership(std::function<std::string(const std::string& key)> shardKey) const {
  if (!shards_) return nullptr;
  if (!shardKey) return [this](const std::string& key) { return shards_->ownsKey(key); };
  return [this, shardKey = std::move(shardKey)](const std::string& key) { return shards_->ownsKey(shardKey(key)); };
}

void Manager::runSharded(std::stop_token stop) {
  shards_->onChange([this](int, bool held) {
    // The keys of a gained bucket were dropped while another replica held it: look at them all again.
    if (held) {
      for (auto& controller : controllers_) controller->resync();
    }
    if (options_.onBucketsHeld) options_.onBucketsHeld(shards_->held());
  });
  // The Leases outlive the controllers' drain: released only once no reconcile is in flight.
  std::stop_source electing;
  std::jthread elector([this, token = electing.get_token()] { shards_->run(token); });
  runControllers(std::move(stop));
  electing.request_stop();
}

int Manager::run(std::stop_token stop) {
  for (auto& [key, informer] : informers_) informer->start();
  int exitCode = 0;
  if (shards_) {
    runSharded(stop);
  } else if (elector_) {
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
