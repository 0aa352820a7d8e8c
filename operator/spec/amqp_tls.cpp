#include "spec/amqp_tls.h"

namespace sluice::spec {

Result<clients::AmqpTls> amqpTls(const api::v1alpha1::RabbitMqSource& rabbitmq, const std::string& path,
                                 const SecretReader& readSecret) {
  clients::AmqpTls tls;
  if (!rabbitmq.tls) return tls;
  const std::string& secret = rabbitmq.connectionSecretName;
  for (auto [key, field, pem] : {std::tuple{&rabbitmq.tls->caKey, ".tls.caKey", &tls.caPem},
                                 std::tuple{&rabbitmq.tls->certKey, ".tls.certKey", &tls.certificatePem},
                                 std::tuple{&rabbitmq.tls->keyKey, ".tls.keyKey", &tls.keyPem}}) {
    if (key->empty()) continue;
    Result<std::string> value = readSecret({secret, *key, path + field});
    if (!value.isOk()) return value.status();
    *pem = std::move(value).value();
  }
  return tls;
}

}  // namespace sluice::spec
