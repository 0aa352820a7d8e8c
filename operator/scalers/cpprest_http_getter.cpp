#include "scalers/cpprest_http_getter.h"

#include <cpprest/asyncrt_utils.h>
#include <cpprest/http_client.h>

#include "common/encoding.h"

namespace sluice::scalers {

namespace {

// Error messages must never carry the password from user:password@host.
std::string withoutUserInfo(const std::string& url) {
  size_t scheme = url.find("://");
  size_t at = url.find('@');
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (scheme == std::string::npos || at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

}  // namespace

Result<HttpResponse> CppRestHttpGetter::get(const std::string& url, const HttpHeaders& headers) {
  const std::string shown = withoutUserInfo(url);
  try {
    web::uri parsed(utility::conversions::to_string_t(url));
    web::uri_builder base;
    base.set_scheme(parsed.scheme()).set_host(parsed.host()).set_port(parsed.port());
    web::http::client::http_client_config config;
    config.set_timeout(timeout_);
    web::http::client::http_client client(base.to_uri(), config);
    web::http::http_request request(web::http::methods::GET);
    web::uri_builder rest;
    rest.set_path(parsed.path(), false).set_query(parsed.query(), false);
    request.set_request_uri(rest.to_uri());
    if (!parsed.user_info().empty()) {
      std::string userInfo = web::uri::decode(parsed.user_info());
      request.headers().add("Authorization", "Basic " + base64Encode(userInfo));
    }
    for (const auto& [name, value] : headers) request.headers().add(name, value);
    web::http::http_response response = client.request(request).get();
    HttpResponse out;
    out.status = response.status_code();
    out.body = response.extract_utf8string(true).get();
    return out;
  } catch (const web::http::http_exception& e) {
    return unavailable("GET " + shown + ": " + e.what());
  } catch (const web::uri_exception& e) {
    return invalidArgument("bad URL " + shown + ": " + e.what());
  } catch (const std::exception& e) {
    return unavailable("GET " + shown + ": " + e.what());
  }
}

}  // namespace sluice::scalers
