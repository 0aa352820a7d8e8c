// HttpClient over Boost.Beast (plain http), for servers that send an interim
// "100 Continue" before their real answer whether or not the client asked for
// it, as Hadoop's DataNode does for every WebHDFS CREATE. cpprestsdk 2.10
// returns that interim 100 as if it were the answer, losing the real status
// (201, or 403 when the file exists); Beast reads past 1xx answers. One
// connection per request; the request timeout bounds the whole exchange.
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <limits>

#include "http/http_client.h"

namespace sluice::http {

namespace {

namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

class BeastHttpClient final : public HttpClient {
 public:
  Result<Response> send(const Request& request) override {
    const std::string what = request.method + " " + request.url;
    const std::string scheme = "http://";
    if (request.url.rfind(scheme, 0) != 0) {
      return invalidArgument("bad URL " + request.url + ": only http:// is supported for this server");
    }
    const size_t pathStart = request.url.find('/', scheme.size());
    const std::string authority = request.url.substr(scheme.size(), pathStart - scheme.size());
    const std::string target = pathStart == std::string::npos ? "/" : request.url.substr(pathStart);
    const size_t colon = authority.rfind(':');
    const bool hasPort = colon != std::string::npos && authority.find(']', colon) == std::string::npos;
    std::string host = hasPort ? authority.substr(0, colon) : authority;
    const std::string port = hasPort ? authority.substr(colon + 1) : "80";
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const beast::http::verb verb = beast::http::string_to_verb(request.method);
    if (verb == beast::http::verb::unknown) return invalidArgument(what + ": unknown HTTP method");
    try {
      boost::asio::io_context io;
      tcp::resolver resolver(io);
      beast::tcp_stream stream(io);
      stream.expires_after(request.timeout);
      stream.connect(resolver.resolve(host, port));

      beast::http::request<beast::http::string_body> out{verb, target, 11};
      out.set(beast::http::field::host, authority);
      out.set(beast::http::field::content_type, "application/octet-stream");
      for (const auto& [name, value] : request.headers) out.set(name, value);
      out.body() = request.body;
      out.prepare_payload();
      beast::http::write(stream, out);

      beast::flat_buffer buffer;
      for (;;) {
        beast::http::response_parser<beast::http::string_body> parser;
        parser.body_limit(request.maxResponseBytes ? request.maxResponseBytes
                                                   : std::numeric_limits<std::uint64_t>::max());
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
        for (const auto& field : answer) {
          result.headers[lower(std::string(field.name_string()))] = std::string(field.value());
        }
        result.body = std::move(answer.body());
        beast::error_code ignored;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        return result;
      }
    } catch (const beast::system_error& e) {
      return unavailable(what + ": " + e.code().message());
    } catch (const std::exception& e) {
      return unavailable(what + ": " + e.what());
    }
  }
};

}  // namespace

std::shared_ptr<HttpClient> makeBeastHttpClient() { return std::make_shared<BeastHttpClient>(); }

}  // namespace sluice::http
