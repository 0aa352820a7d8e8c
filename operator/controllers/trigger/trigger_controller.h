// TriggerController: tells users whether a Trigger can work. It checks that
// the Function it refers to exists and that every Secret its spec references
// (any "...secretRef"/"...SecretRef" {name}) exists in the namespace and
// holds the keys the replicas read from it, the source's and the dead
// letter's (api::v1alpha1::requiredSecretKeys), and whether the source's
// endpoint accepts a TCP connection (Kafka bootstrap servers, the object
// store's endpoint, RabbitMQ's host from a plain url). It writes
// status.sourceType, observedGeneration and the conditions
//   Ready           True when the Function and Secrets exist (reasons
//                   FunctionNotFound, SecretNotFound, SecretKeyMissing, with
//                   the names and fields; a Warning Event when it turns False;
//                   a missing Secret is looked for again every 30 s);
//   SourceReachable True / False with the connection error / Unknown when the
//                   endpoint is not known to the operator (a local dir, a
//                   RabbitMQ url kept in a Secret), rechecked every minute;
//   ScalerCredentials (only for a Trigger whose scaler reads Secrets: Kafka
//                   sasl/tls, RabbitMQ, S3) True when each such Secret opted in
//                   to scaler access (api::v1alpha1::kScalerAccessKey), False
//                   with reason SecretNotOptedIn naming the Secret and the
//                   label otherwise, with a Warning Event when it turns False.
// The autoscaler writes the metric fields (metricValue, active); this
// controller's merge patch leaves them alone.
// Thread-safety: as any Reconciler.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/v1alpha1/trigger.h"
#include "common/clock.h"
#include "common/status.h"
#include "controllers/trigger/probe_memo.h"
#include "kube/object_cache.h"
#include "kube/resource_client.h"
#include "reconcile/event_recorder.h"
#include "reconcile/reconciler.h"
#include "scalers/endpoint_allow_list.h"

namespace sluice::controllers {

Status tcpProbe(const std::string& host, int port);

class TriggerController final : public reconcile::Reconciler {
 public:
  TriggerController(kube::ResourceClient& client, const kube::ObjectCache& triggers, const kube::ObjectCache& functions,
                    Clock& clock, EndpointProbe probe = tcpProbe, reconcile::EventRecorder* events = nullptr,
                    scalers::EndpointAllowList allowed = {});

  reconcile::ReconcileResult reconcile(const std::string& key) override;

  // The source kind of a Trigger spec: kafka, rabbitmq, cron, http, objectStore or prometheus ("" if none).
  static std::string sourceType(const kube::Json& spec);
  // Names of the Secrets a Trigger spec references, in spec order, without repeats.
  static std::vector<std::string> secretNames(const kube::Json& spec);
  // The Secret keys a Trigger spec needs: {secret name, key, spec field}.
  using SecretKey = api::v1alpha1::SecretKey;
  static std::vector<SecretKey> requiredSecretKeys(const kube::Json& spec);
  // Keys of the Triggers that refer to a Function (for watchMapped on Functions).
  static std::vector<std::string> triggersOfFunction(const kube::ObjectCache& triggers, const kube::Json& function);

 private:
  // The Ready condition's inputs: the Function and Secrets (keys) exist; the scaler's Secrets opted in.
  struct Readiness {
    std::string reason;  // "" when ready
    std::string message;
    bool scalerSecrets = false;               // the operator itself would read Secrets
    std::vector<std::string> scalerRefusals;  // why it may not, one per Secret
  };
  Result<Readiness> readiness(const kube::Json& trigger) const;
  // A Warning Event when the Trigger turns not Ready, or for another reason (`previous`: its conditions before).
  void recordNotReady(const kube::Json& trigger, const kube::Json& previous, const Readiness& ready) const;
  kube::Json sourceReachable(const kube::Json& trigger, const std::string& now) const;
  kube::Json scalerCredentials(const kube::Json& trigger, const std::vector<std::string>& refusals,
                               const std::string& now) const;
  // "" when reachable; the error text otherwise; nullopt when the operator cannot tell.
  std::optional<std::string> reachability(const kube::Json& spec) const;
  // The endpoints the source names, each with its field.
  static std::vector<std::pair<std::string, std::string>> endpointsOf(const kube::Json& spec);
  // PermissionDenied naming the first endpoint the allow-list refuses.
  Status allowedToProbe(const kube::Json& spec) const;

  kube::ResourceClient& client_;
  const kube::ObjectCache& triggers_;
  const kube::ObjectCache& functions_;
  Clock& clock_;
  // Shared by the Triggers that name one endpoint (see probe_memo.h); reachability() is const, the memo is not.
  mutable ProbeMemo probes_;
  // The operator's scaler endpoint allow-list: an endpoint it does not allow is not probed either.
  scalers::EndpointAllowList allowed_;
  reconcile::EventRecorder* events_;  // may be null (no Events)
};

}  // namespace sluice::controllers
