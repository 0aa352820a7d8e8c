// FakeAmqpBroker: one queue of an in-memory AMQP broker, and the
// AmqpConsumer connections a RabbitMqSource opens to it (consumer()).
//
// Like RabbitMQ: delivery tags count from 1 on each connection and mean
// nothing on another; what a connection delivered and did not ack goes back
// to the head of the queue, marked redelivered, when the connection closes or
// drops; nack with requeue puts it back the same way, without requeue it is
// dead-lettered (rejected()). An ack of a tag the connection never delivered
// is a protocol error (counted in unknownTags(), and the channel is closed).
// The test drops the connection, refuses new ones, and waits for outcomes.
// The queue's probation queue (AmqpConsumer::ensureProbation) is a second
// queue read by get: its deliveries are requeued, redelivered, the same way;
// publishProbation() appends a copy (headers included) to it, returnToQueue()
// one to the queue.
// Thread-safe: the source's thread uses the consumer while the test drives
// the broker.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/sources/amqp_consumer.h"

namespace sluice::testing {

class FakeAmqpBroker {
 public:
  void publish(const std::string& messageId, const std::string& body, runtime::Headers headers = {},
               bool redelivered = false) {
    std::lock_guard lock(mu_);
    ready_.push_back({messageId, body, redelivered, std::move(headers)});
    changed_.notify_all();
  }
  // A message already on the probation queue (left there by another replica).
  void publishProbation(const std::string& messageId, const std::string& body, runtime::Headers headers = {},
                        bool redelivered = false) {
    std::lock_guard lock(mu_);
    probationExists_ = true;
    probationReady_.push_back({messageId, body, redelivered, std::move(headers)});
    changed_.notify_all();
  }

  // The connection a source opens; any number, one open at a time.
  std::unique_ptr<runtime::AmqpConsumer> consumer();

  // The broker drops the open connection (a restart, a network cut).
  void dropConnection() {
    std::lock_guard lock(mu_);
    requeueUnacked();
    ++connection_;  // the old one is gone: its consume() reports kClosed, its acks fail
    open_ = false;
    changed_.notify_all();
  }
  void refuseConnections(bool refuse) {
    std::lock_guard lock(mu_);
    refuse_ = refuse;
  }

  // Waits (up to 10 s) until `condition` holds on the broker's state; false when it never did.
  bool waitFor(const std::function<bool(const FakeAmqpBroker&)>& condition) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return condition(*this); });
  }

  // Read these inside waitFor() or after the source stopped.
  const std::vector<std::string>& acked() const { return acked_; }
  // Settled on the probation queue: acked, and each copy published to it (id, headers).
  const std::vector<std::string>& probationAcked() const { return probationAcked_; }
  const std::vector<std::pair<std::string, runtime::Headers>>& probationCopies() const { return probationCopies_; }
  size_t probationReady() const { return probationReady_.size(); }
  bool probationExists() const { return probationExists_; }
  bool probationQuorum() const { return probationQuorum_; }
  int probationGets() const { return probationGets_; }
  const std::vector<std::string>& rejected() const { return rejected_; }
  int requeued() const { return requeued_; }
  int opens() const { return opens_; }
  int openAttempts() const { return openAttempts_; }
  int heartbeats() const { return heartbeats_; }
  int unknownTags() const { return unknownTags_; }
  bool open() const { return open_; }
  size_t unacked() const { return unacked_.size(); }
  size_t ready() const { return ready_.size(); }

 private:
  class Consumer;
  struct Message {
    std::string id;
    std::string body;
    bool redelivered;
    runtime::Headers headers;
    bool probation = false;  // delivered from the probation queue
  };

  // Back to the head of their queue, in delivery order, marked redelivered.
  void requeueUnacked() {
    for (auto it = unacked_.rbegin(); it != unacked_.rend(); ++it) {
      Message message = it->second;
      message.redelivered = true;
      (message.probation ? probationReady_ : ready_).push_front(message);
    }
    unacked_.clear();
  }

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::deque<Message> ready_;
  std::map<uint64_t, Message> unacked_;  // of the open connection, by tag
  uint64_t connection_ = 0;              // the open (or last) connection's number
  uint64_t nextTag_ = 1;
  bool open_ = false;
  bool refuse_ = false;
  std::deque<Message> probationReady_;
  bool probationExists_ = false;
  bool probationQuorum_ = false;
  int probationGets_ = 0;
  std::vector<std::string> probationAcked_;
  std::vector<std::pair<std::string, runtime::Headers>> probationCopies_;
  std::vector<std::string> acked_;
  std::vector<std::string> rejected_;
  int requeued_ = 0;
  int opens_ = 0;
  int openAttempts_ = 0;
  int heartbeats_ = 0;
  int unknownTags_ = 0;
};

class FakeAmqpBroker::Consumer final : public runtime::AmqpConsumer {
 public:
  explicit Consumer(FakeAmqpBroker& broker) : broker_(broker) {}
  ~Consumer() override { close(true); }

  Status open() override {
    std::lock_guard lock(broker_.mu_);
    ++broker_.openAttempts_;
    broker_.changed_.notify_all();
    if (broker_.refuse_) return unavailable("fake broker: connection refused");
    if (broker_.open_) broker_.requeueUnacked();  // one connection at a time
    connection_ = ++broker_.connection_;
    broker_.nextTag_ = 1;
    broker_.open_ = true;
    ++broker_.opens_;
    return Status::ok();
  }

  bool isOpen() const override { return connection_ != 0; }

  void close(bool) override {
    std::lock_guard lock(broker_.mu_);
    if (live()) {
      broker_.requeueUnacked();
      broker_.open_ = false;
      broker_.changed_.notify_all();
    }
    connection_ = 0;
  }

  runtime::ConsumeResult consume(std::chrono::milliseconds timeout, runtime::AmqpDelivery& delivery) override {
    std::unique_lock lock(broker_.mu_);
    broker_.changed_.wait_for(lock, timeout, [&] { return !live() || (!cancelled_ && !broker_.ready_.empty()); });
    if (!live()) {
      connection_ = 0;  // the source sees the drop, as rabbitmq-c does, when it reads
      return runtime::ConsumeResult::kClosed;
    }
    if (cancelled_ || broker_.ready_.empty()) return runtime::ConsumeResult::kNothing;
    Message message = broker_.ready_.front();
    broker_.ready_.pop_front();
    deliver(std::move(message), delivery);
    return runtime::ConsumeResult::kDelivery;
  }

  Status ack(uint64_t tag) override {
    return settle(tag, false, [&](Message m) { broker_.acked_.push_back(m.id); });
  }

  Status nack(uint64_t tag, bool requeue) override {
    return settle(tag, false, [&](Message m) {
      if (requeue) {
        ++broker_.requeued_;
        m.redelivered = true;
        broker_.ready_.push_front(m);
      } else {
        broker_.rejected_.push_back(m.id);
      }
    });
  }

  bool probationExists() const override {
    std::lock_guard lock(broker_.mu_);
    return broker_.probationExists_;
  }
  Status ensureProbation(bool quorum) override {
    std::lock_guard lock(broker_.mu_);
    if (!live()) return unavailable("fake broker: connection lost");
    if (!broker_.probationExists_) broker_.probationQuorum_ = quorum;
    broker_.probationExists_ = true;
    return Status::ok();
  }
  Status publishProbation(const runtime::AmqpDelivery& message) override {
    std::lock_guard lock(broker_.mu_);
    if (!live()) return unavailable("fake broker: connection lost");
    if (!broker_.probationExists_) return Status(StatusCode::kNotFound, "fake broker: no probation queue");
    broker_.probationReady_.push_back({message.messageId, message.body, false, message.headers, true});
    broker_.probationCopies_.emplace_back(message.messageId, message.headers);
    broker_.changed_.notify_all();
    return Status::ok();
  }
  Status returnToQueue(const runtime::AmqpDelivery& message) override {
    std::lock_guard lock(broker_.mu_);
    if (!live()) return unavailable("fake broker: connection lost");
    broker_.ready_.push_back({message.messageId, message.body, false, message.headers});
    broker_.changed_.notify_all();
    return Status::ok();
  }
  runtime::ConsumeResult getProbation(runtime::AmqpDelivery& delivery) override {
    std::lock_guard lock(broker_.mu_);
    if (!live()) {
      connection_ = 0;
      return runtime::ConsumeResult::kClosed;
    }
    ++broker_.probationGets_;
    broker_.changed_.notify_all();
    if (broker_.probationReady_.empty()) return runtime::ConsumeResult::kNothing;
    Message message = broker_.probationReady_.front();
    broker_.probationReady_.pop_front();
    message.probation = true;
    deliver(std::move(message), delivery);
    return runtime::ConsumeResult::kDelivery;
  }
  Status ackProbation(uint64_t tag) override {
    return settle(tag, true, [&](Message m) { broker_.probationAcked_.push_back(m.id); });
  }
  Status nackProbation(uint64_t tag, bool requeue) override {
    return settle(tag, true, [&](Message m) {
      if (requeue) {
        m.redelivered = true;
        broker_.probationReady_.push_front(m);
      } else {
        broker_.rejected_.push_back(m.id);
      }
    });
  }

  void cancel() override {
    std::lock_guard lock(broker_.mu_);
    cancelled_ = true;
  }

  Status sendHeartbeat() override {
    std::lock_guard lock(broker_.mu_);
    if (!live()) return unavailable("fake broker: connection lost");
    ++broker_.heartbeats_;
    broker_.changed_.notify_all();
    return Status::ok();
  }

 private:
  // Hands `message` out under the next tag, unacked (mu_ held).
  void deliver(Message message, runtime::AmqpDelivery& delivery) {
    delivery = runtime::AmqpDelivery{};
    delivery.deliveryTag = broker_.nextTag_++;
    delivery.redelivered = message.redelivered;
    delivery.messageId = message.id;
    delivery.body = message.body;
    delivery.headers = message.headers;
    broker_.unacked_[delivery.deliveryTag] = std::move(message);
    broker_.changed_.notify_all();
  }

  // Whether this connection is still the broker's open one (mu_ held).
  bool live() const { return connection_ != 0 && connection_ == broker_.connection_ && broker_.open_; }

  // `probation`: settled as a probation queue's delivery (a tag of the other queue is unknown there).
  Status settle(uint64_t tag, bool probation, const std::function<void(Message)>& what) {
    std::lock_guard lock(broker_.mu_);
    if (!live()) return unavailable("fake broker: connection lost");
    auto it = broker_.unacked_.find(tag);
    if (it == broker_.unacked_.end() || it->second.probation != probation) {
      ++broker_.unknownTags_;  // RabbitMQ closes the channel: PRECONDITION_FAILED - unknown delivery tag
      broker_.requeueUnacked();
      broker_.open_ = false;
      broker_.changed_.notify_all();
      return Status(StatusCode::kFailedPrecondition, "fake broker: unknown delivery tag " + std::to_string(tag));
    }
    Message message = it->second;
    broker_.unacked_.erase(it);
    what(message);
    broker_.changed_.notify_all();
    return Status::ok();
  }

  FakeAmqpBroker& broker_;
  uint64_t connection_ = 0;  // 0: not open
  bool cancelled_ = false;
};

inline std::unique_ptr<runtime::AmqpConsumer> FakeAmqpBroker::consumer() { return std::make_unique<Consumer>(*this); }

}  // namespace sluice::testing
