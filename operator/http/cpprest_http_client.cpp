// HttpClient over cpprestsdk 2.10. A client object per request keeps it
// thread-safe without locks; cpprestsdk pools connections per host anyway.
#include <cpprest/http_client.h>

#include <cctype>

#include "common/encoding.h"
#include "http/http_client.h"

namespace sluice::http {

namespace {

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

class CppRestHttpClient final : public HttpClient {
 public:
  Result<Response> send(const Request& request) override {
    const std::string shown = withoutUserInfo(request.url);
    const std::string what = request.method + " " + shown;
    try {
      web::uri parsed(utility::conversions::to_string_t(request.url));
      web::uri_builder base;
      base.set_scheme(parsed.scheme()).set_host(parsed.host()).set_port(parsed.port());
      web::http::client::http_client_config config;
      config.set_timeout(request.timeout);
      web::http::client::http_client client(base.to_uri(), config);
      web::http::http_request out(utility::conversions::to_string_t(request.method));
      web::uri_builder rest;
      rest.set_path(parsed.path(), false).set_query(parsed.query(), false);
      out.set_request_uri(rest.to_uri());
      if (!parsed.user_info().empty()) {
        out.headers().add("Authorization", "Basic " + base64Encode(web::uri::decode(parsed.user_info())));
      }
      std::string contentType = "application/octet-stream";
      for (const auto& [name, value] : request.headers) {
        if (lower(name) == "content-type") {
          contentType = value;
          continue;
        }
        out.headers().add(name, value);
      }
      // Always set a body (possibly empty) so PUTs carry Content-Length: 0.
      out.set_body(std::vector<unsigned char>(request.body.begin(), request.body.end()));
      out.headers().set_content_type(contentType);
      // Cancelled when a limited body runs over, so cpprestsdk stops reading it.
      pplx::cancellation_token_source cancel;
      web::http::http_response response = client.request(out, cancel.get_token()).get();
      Response result;
      result.status = response.status_code();
      for (const auto& [name, value] : response.headers()) result.headers[lower(name)] = value;
      if (request.maxResponseBytes == 0) {
        std::vector<unsigned char> body = response.extract_vector().get();
        result.body.assign(body.begin(), body.end());
        return result;
      }
      const uint64_t limit = request.maxResponseBytes;
      if (response.headers().content_length() > limit) {
        cancel.cancel();
        return responseTooLarge(what, limit);
      }
      // Read in chunks so an endless or oversized body is refused after `limit` bytes, not held whole.
      concurrency::streams::istream body = response.body();
      for (;;) {
        concurrency::streams::container_buffer<std::string> chunk;
        const size_t read = body.read(chunk, 64 * 1024).get();
        if (read == 0) break;
        if (result.body.size() + read > limit) {
          cancel.cancel();
          return responseTooLarge(what, limit);
        }
        result.body.append(chunk.collection().data(), read);  // the buffer may be larger than what was read
      }
      return result;
    } catch (const web::uri_exception& e) {
      return invalidArgument("bad URL " + shown + ": " + e.what());
    } catch (const std::exception& e) {
      return unavailable(what + ": " + e.what());
    }
  }
};

}  // namespace

std::shared_ptr<HttpClient> makeCppRestHttpClient() { return std::make_shared<CppRestHttpClient>(); }

}  // namespace sluice::http
