// FakeScalerFactory: a ScalerFactory handing out scripted scalers, one script
// per Trigger name, so the autoscaler loop is tested without brokers.
// A script says what the next read returns (value or error) and can block
// reads until released (a slow source). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "controllers/autoscaler/scaler_factory.h"

namespace sluice::testing {

struct ScalerScript {
  std::mutex mu;
  std::condition_variable cv;
  double value = 0;
  std::string error;  // non-empty: reads fail with this
  double target = 10;
  bool utilization = false;  // a CPU-style percentage target instead of a per-replica average
  bool blocked = false;
  std::atomic<int> reads{0};
  // The rate policy's counters (a Kafka group's committed offsets and high watermarks), when set.
  std::optional<double> processedTotal;
  std::optional<double> arrivedTotal;

  void set(double v) {
    std::lock_guard lock(mu);
    value = v;
    error.clear();
  }
  void fail(std::string message) {
    std::lock_guard lock(mu);
    error = std::move(message);
  }
  void block(bool on) {
    {
      std::lock_guard lock(mu);
      blocked = on;
    }
    cv.notify_all();
  }
};

class ScriptedScaler final : public scalers::Scaler {
 public:
  explicit ScriptedScaler(std::shared_ptr<ScalerScript> script) : script_(std::move(script)) {}
  std::string name() const override { return "scripted"; }
  scalers::ScalerTarget target() const override {
    return {
        script_->utilization ? autoscaler::MetricTargetType::kUtilization : autoscaler::MetricTargetType::kAverageValue,
        script_->target, 0};
  }
  Result<scalers::ScalerReading> read() override {
    std::unique_lock lock(script_->mu);
    script_->cv.wait(lock, [&] { return !script_->blocked; });
    ++script_->reads;
    if (!script_->error.empty()) return unavailable(script_->error);
    scalers::ScalerReading reading;
    reading.value = script_->value;
    reading.active = script_->value > 0;
    reading.processedTotal = script_->processedTotal;
    reading.arrivedTotal = script_->arrivedTotal;
    if (reading.processedTotal) reading.backlog = script_->value;
    return reading;
  }

 private:
  std::shared_ptr<ScalerScript> script_;
};

class FakeScalerFactory final : public controllers::ScalerFactory {
 public:
  // The script for Trigger `name` (created on first use).
  std::shared_ptr<ScalerScript> script(const std::string& name) {
    std::lock_guard lock(mu_);
    auto& slot = scripts_[name];
    if (!slot) slot = std::make_shared<ScalerScript>();
    return slot;
  }
  // create() for Trigger `name` fails with `status` until cleared (Status::ok()).
  void failCreate(const std::string& name, Status status) {
    std::lock_guard lock(mu_);
    createErrors_[name] = std::move(status);
  }
  int creates(const std::string& name) {
    std::lock_guard lock(mu_);
    return creates_[name];
  }

  Result<std::unique_ptr<scalers::Scaler>> create(const nlohmann::json& trigger) override {
    const std::string name = trigger.value("/metadata/name"_json_pointer, std::string());
    {
      std::lock_guard lock(mu_);
      ++creates_[name];
      if (auto it = createErrors_.find(name); it != createErrors_.end() && !it->second.isOk()) return it->second;
    }
    if (controllers::triggerSourceType(trigger) == "http") return std::unique_ptr<scalers::Scaler>();
    return std::unique_ptr<scalers::Scaler>(std::make_unique<ScriptedScaler>(script(name)));
  }
  // The CPU scaler runs script "CPU" (a utilization target of cpuTargetUtilization).
  Result<std::unique_ptr<scalers::Scaler>> createCpu(const nlohmann::json& function) override {
    auto cpu = script("CPU");
    cpu->utilization = true;
    cpu->target = function.value("/spec/scaling/cpuTargetUtilization"_json_pointer, 80.0);
    {
      std::lock_guard lock(mu_);
      ++creates_["CPU"];
    }
    return std::unique_ptr<scalers::Scaler>(std::make_unique<ScriptedScaler>(cpu));
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<ScalerScript>> scripts_;
  std::map<std::string, Status> createErrors_;
  std::map<std::string, int> creates_;
};

}  // namespace sluice::testing
