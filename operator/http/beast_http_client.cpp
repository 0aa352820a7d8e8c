// HttpClient over Boost.Beast, in two uses:
//  - makeBeastHttpClient (plain http), for servers that send an interim
//    "100 Continue" before their real answer whether or not the client asked
//    for it, as Hadoop's DataNode does for every WebHDFS CREATE. cpprestsdk
//    2.10 returns that interim 100 as if it were the answer, losing the real
//    status (201, or 403 when the file exists); Beast reads past 1xx answers.
//  - makeTlsHttpClient (http and https), for servers whose certificate comes
//    from a private CA and names something other than the address called (a
//    replica's control port): cpprestsdk checks the name against the URL's
//    host and offers no way to say otherwise.
// One connection per request; the request timeout bounds the whole exchange.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <limits>
#include <mutex>

#include "http/http_client.h"

namespace sluice::http {

namespace {

namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

struct Target {
  bool https = false;
  std::string authority;  // host[:port] as in the URL
  std::string host;       // without brackets
  std::string port;
  std::string path;  // path and query
};

Result<Target> parseTarget(const std::string& url, bool httpsAllowed) {
  Target target;
  std::string scheme = "http://";
  if (httpsAllowed && url.rfind("https://", 0) == 0) {
    target.https = true;
    scheme = "https://";
  } else if (url.rfind(scheme, 0) != 0) {
    return invalidArgument("bad URL " + url + ": only " + (httpsAllowed ? "http(s)://" : "http://") +
                           " is supported for this server");
  }
  const size_t pathStart = url.find('/', scheme.size());
  target.authority = url.substr(scheme.size(), pathStart - scheme.size());
  target.path = pathStart == std::string::npos ? "/" : url.substr(pathStart);
  const size_t colon = target.authority.rfind(':');
  const bool hasPort = colon != std::string::npos && target.authority.find(']', colon) == std::string::npos;
  target.host = hasPort ? target.authority.substr(0, colon) : target.authority;
  target.port = hasPort ? target.authority.substr(colon + 1) : (target.https ? "443" : "80");
  if (target.host.size() > 2 && target.host.front() == '[') target.host = target.host.substr(1, target.host.size() - 2);
  return target;
}

// Writes `request` on a connected `stream` and reads the answer past any 1xx.
template <class Stream>
Result<Response> exchange(Stream& stream, const Request& request, const Target& target, const std::string& what) {
  const beast::http::verb verb = beast::http::string_to_verb(request.method);
  if (verb == beast::http::verb::unknown) return invalidArgument(what + ": unknown HTTP method");
  beast::http::request<beast::http::string_body> out{verb, target.path, 11};
  out.set(beast::http::field::host, target.authority);
  out.set(beast::http::field::content_type, "application/octet-stream");
  for (const auto& [name, value] : request.headers) out.set(name, value);
  out.body() = request.body;
  out.prepare_payload();
  beast::http::write(stream, out);

  beast::flat_buffer buffer;
  for (;;) {
    beast::http::response_parser<beast::http::string_body> parser;
    parser.body_limit(request.maxResponseBytes ? request.maxResponseBytes : std::numeric_limits<std::uint64_t>::max());
    beast::error_code readError;
    beast::http::read_header(stream, buffer, parser, readError);
    // The announced length is checked here: Boost 1.74's parser lets a Content-Length over its
    // body_limit through when the whole answer arrives in one read.
    if (!readError && request.maxResponseBytes && parser.content_length() &&
        *parser.content_length() > request.maxResponseBytes) {
      return responseTooLarge(what, request.maxResponseBytes);
    }
    if (!readError) beast::http::read(stream, buffer, parser, readError);
    if (readError == beast::http::error::body_limit) return responseTooLarge(what, request.maxResponseBytes);
    if (readError) throw beast::system_error(readError);
    auto& answer = parser.get();
    if (answer.result_int() >= 100 && answer.result_int() < 200) continue;  // interim: the real one follows
    Response result;
    result.status = static_cast<int>(answer.result_int());
    for (const auto& field : answer)
      result.headers[lower(std::string(field.name_string()))] = std::string(field.value());
    result.body = std::move(answer.body());
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
    return result;
  }
}

class BeastHttpClient final : public HttpClient {
 public:
  // Without a trust source: plain http only.
  explicit BeastHttpClient(std::function<std::string()> trustedPem = nullptr) : trustedPem_(std::move(trustedPem)) {}

  Result<Response> send(const Request& request) override {
    const std::string what = request.method + " " + request.url;
    auto target = parseTarget(request.url, static_cast<bool>(trustedPem_));
    if (!target.isOk()) return target.status();
    try {
      boost::asio::io_context io;
      tcp::resolver resolver(io);
      if (!target->https) {
        beast::tcp_stream stream(io);
        stream.expires_after(request.timeout);
        stream.connect(resolver.resolve(target->host, target->port));
        return exchange(stream, request, *target, what);
      }
      auto context = tlsContext();
      if (!context.isOk()) return context.status().withContext(what);
      beast::ssl_stream<beast::tcp_stream> stream(io, **context);
      const std::string name = request.tlsServerName.empty() ? target->host : request.tlsServerName;
      if (!SSL_set_tlsext_host_name(stream.native_handle(), name.c_str())) {
        return invalidArgument(what + ": bad server name " + name);
      }
      stream.set_verify_callback(ssl::host_name_verification(name));
      beast::get_lowest_layer(stream).expires_after(request.timeout);
      beast::get_lowest_layer(stream).connect(resolver.resolve(target->host, target->port));
      stream.handshake(ssl::stream_base::client);
      return exchange(stream, request, *target, what);
    } catch (const beast::system_error& e) {
      return unavailable(what + ": " + e.code().message());
    } catch (const std::exception& e) {
      return unavailable(what + ": " + e.what());
    }
  }

 private:
  // A client context trusting what trustedPem_ returns now; rebuilt when that changes.
  Result<std::shared_ptr<ssl::context>> tlsContext() {
    const std::string trusted = trustedPem_();
    if (trusted.empty()) return Status(StatusCode::kFailedPrecondition, "no trusted CA certificate for https");
    std::lock_guard lock(mu_);
    if (context_ && trusted == contextTrust_) return context_;
    auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
    try {
      context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      context->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      context->add_certificate_authority(boost::asio::buffer(trusted));
    } catch (const std::exception& e) {
      return invalidArgument(std::string("the trusted CA certificates: ") + e.what());
    }
    context_ = context;
    contextTrust_ = trusted;
    return context;
  }

  const std::function<std::string()> trustedPem_;
  std::mutex mu_;
  std::shared_ptr<ssl::context> context_;  // guarded by mu_
  std::string contextTrust_;               // guarded by mu_
};

}  // namespace

std::shared_ptr<HttpClient> makeBeastHttpClient() { return std::make_shared<BeastHttpClient>(); }

std::shared_ptr<HttpClient> makeTlsHttpClient(std::function<std::string()> trustedPem) {
  return std::make_shared<BeastHttpClient>(std::move(trustedPem));
}

}  // namespace sluice::http
