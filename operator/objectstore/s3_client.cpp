#include "objectstore/s3_client.h"

#include <openssl/evp.h>

#include "common/encoding.h"

namespace sluice::objectstore {

std::vector<std::string> xmlElements(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">";
  const std::string close = "</" + tag + ">";
  for (size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    size_t start = at + open.size();
    size_t end = xml.find(close, start);
    if (end == std::string::npos) break;
    out.push_back(xml.substr(start, end - start));
    at = end + close.size();
  }
  return out;
}

namespace {

std::string firstElement(const std::string& xml, const std::string& tag) {
  auto all = xmlElements(xml, tag);
  return all.empty() ? std::string() : all.front();
}

std::string xmlUnescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string::npos) {
      out += text[i];
      continue;
    }
    std::string entity = text.substr(i + 1, semi - i - 1);
    if (entity == "amp")
      out += '&';
    else if (entity == "lt")
      out += '<';
    else if (entity == "gt")
      out += '>';
    else if (entity == "quot")
      out += '"';
    else if (entity == "apos")
      out += '\'';
    else if (!entity.empty() && entity[0] == '#') {
      long code = entity.size() > 1 && (entity[1] == 'x' || entity[1] == 'X')
                      ? std::strtol(entity.c_str() + 2, nullptr, 16)
                      : std::strtol(entity.c_str() + 1, nullptr, 10);
      // Keys are UTF-8; S3 escapes only control characters this way, which are single bytes.
      if (code > 0 && code < 0x80)
        out += static_cast<char>(code);
      else
        out += "&" + entity + ";";
    } else {
      out += "&" + entity + ";";
    }
    i = semi;
  }
  return out;
}

// Base64 MD5: S3 requires Content-MD5 on tagging requests.
std::string contentMd5(const std::string& body) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(body.data(), body.size(), digest, &length, EVP_md5(), nullptr);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

std::string unquote(std::string etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return etag;
}

}  // namespace

Result<S3ListPage> parseListObjectsV2(const std::string& xml) {
  if (xml.find("<ListBucketResult") == std::string::npos) {
    return unavailable("not a ListObjectsV2 answer: " + xml.substr(0, 200));
  }
  S3ListPage page;
  for (const std::string& block : xmlElements(xml, "Contents")) {
    S3Object object;
    object.key = xmlUnescape(firstElement(block, "Key"));
    // MinIO writes the quotes as &#34;, AWS as &quot;: unescape before unquoting, so a
    // listed ETag equals the one a GET answers with (tag mode's "done" marker compares them).
    object.etag = unquote(xmlUnescape(firstElement(block, "ETag")));
    object.size = std::strtoll(firstElement(block, "Size").c_str(), nullptr, 10);
    object.lastModified = firstElement(block, "LastModified");
    page.objects.push_back(std::move(object));
  }
  if (firstElement(xml, "IsTruncated") == "true")
    page.nextContinuationToken = firstElement(xml, "NextContinuationToken");
  return page;
}

Status s3Error(const http::Response& response, const std::string& what) {
  std::string code = firstElement(response.body, "Code");
  std::string message = firstElement(response.body, "Message");
  std::string text = what + ": HTTP " + std::to_string(response.status) + (code.empty() ? "" : " " + code) +
                     (message.empty() ? "" : ": " + message);
  switch (response.status) {
    case 400: return invalidArgument(text);
    case 401:
    case 403: return Status(StatusCode::kPermissionDenied, text);
    case 404: return notFound(text);
    case 409: return Status(StatusCode::kConflict, text);
    case 412: return Status(StatusCode::kFailedPrecondition, text);
    case 429:
    case 503: return Status(StatusCode::kResourceExhausted, text);
    default: return unavailable(text);
  }
}

S3Client::S3Client(S3Options options, std::shared_ptr<http::HttpClient> http, const Clock& clock)
    : options_(std::move(options)), http_(std::move(http)), clock_(clock) {
  std::string base = options_.endpoint;
  while (!base.empty() && base.back() == '/') base.pop_back();
  size_t schemeEnd = base.find("://");
  scheme_ = schemeEnd == std::string::npos ? "http://" : base.substr(0, schemeEnd + 3);
  host_ = schemeEnd == std::string::npos ? base : base.substr(schemeEnd + 3);
  if (!options_.pathStyle) host_ = options_.bucket + "." + host_;
}

Result<http::Response> S3Client::send(const std::string& method, const std::string& key,
                                      std::map<std::string, std::string> query,
                                      std::map<std::string, std::string> headers, const std::string& body) {
  SigV4Request request;
  request.method = method;
  std::string path = options_.pathStyle ? "/" + percentEncode(options_.bucket) : "";
  if (!key.empty()) path += "/" + percentEncode(key, {.keepSlash = true});
  if (path.empty()) path = "/";
  request.canonicalPath = path;
  request.query = std::move(query);
  request.headers = std::move(headers);
  request.headers["host"] = host_;
  request.payloadSha256Hex = sha256Hex(body);
  sign(request, options_.credentials, clock_.wallNow());
  http::Request out;
  out.method = method;
  std::string queryText = canonicalQuery(request.query);
  out.url = scheme_ + host_ + path + (queryText.empty() ? "" : "?" + queryText);
  for (const auto& [name, value] : request.headers) {
    if (name != "host") out.headers.emplace_back(name, value);
  }
  out.body = body;
  out.timeout = options_.timeout;
  return http_->send(out);
}

Result<S3ListPage> S3Client::list(const std::string& prefix, const std::string& continuationToken, int maxKeys) {
  std::map<std::string, std::string> query = {{"list-type", "2"}, {"max-keys", std::to_string(maxKeys)}};
  if (!prefix.empty()) query["prefix"] = prefix;
  if (!continuationToken.empty()) query["continuation-token"] = continuationToken;
  const std::string what = "listing " + describe(prefix);
  auto response = send("GET", "", std::move(query), {}, "");
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  auto page = parseListObjectsV2(response->body);
  if (!page.isOk()) return page.status().withContext(what);
  return page;
}

Result<std::string> S3Client::get(const std::string& key, std::string* etag) {
  const std::string what = "GET " + describe(key);
  auto response = send("GET", key, {}, {}, "");
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  if (etag != nullptr) {
    const auto* value = response->header("etag");
    *etag = value == nullptr ? std::string() : unquote(*value);
  }
  return std::move(response->body);
}

namespace {

// Version ids a GET/HEAD answers with; "null" is what an unversioned write is called on a versioned bucket.
std::string versionIdOf(const http::Response& response) {
  const auto* value = response.header("x-amz-version-id");
  return value == nullptr || *value == "null" ? std::string() : *value;
}

}  // namespace

Result<std::string> S3Client::get(const std::string& key, S3Object& meta) {
  const std::string what = "GET " + describe(key);
  auto response = send("GET", key, {}, {}, "");
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  meta.key = key;
  meta.size = static_cast<int64_t>(response->body.size());
  if (const auto* etag = response->header("etag")) meta.etag = unquote(*etag);
  if (const auto* modified = response->header("last-modified")) meta.lastModified = *modified;
  if (const auto* type = response->header("content-type")) meta.contentType = *type;
  meta.versionId = versionIdOf(*response);
  return std::move(response->body);
}

std::string S3Client::objectUrl(const std::string& key) const {
  std::string path = options_.pathStyle ? "/" + percentEncode(options_.bucket) : "";
  return scheme_ + host_ + path + "/" + percentEncode(key, {.keepSlash = true});
}

Status S3Client::enableVersioning() {
  const std::string what = "enabling versioning on " + options_.bucket;
  const std::string body =
      "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status>"
      "</VersioningConfiguration>";
  auto response = send("PUT", "", {{"versioning", ""}}, {}, body);
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  return Status::ok();
}

Result<S3Object> S3Client::head(const std::string& key) {
  const std::string what = "HEAD " + describe(key);
  auto response = send("HEAD", key, {}, {}, "");
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  S3Object object;
  object.key = key;
  if (const auto* etag = response->header("etag")) object.etag = unquote(*etag);
  if (const auto* length = response->header("content-length")) object.size = std::strtoll(length->c_str(), nullptr, 10);
  if (const auto* modified = response->header("last-modified")) object.lastModified = *modified;
  if (const auto* type = response->header("content-type")) object.contentType = *type;
  object.versionId = versionIdOf(*response);
  return object;
}

Status S3Client::put(const std::string& key, const std::string& body, const S3PutConditions& conditions) {
  const std::string what = "PUT " + describe(key);
  std::map<std::string, std::string> headers;
  if (conditions.ifNoneMatchAny) headers["if-none-match"] = "*";
  if (!conditions.ifMatchEtag.empty()) headers["if-match"] = "\"" + conditions.ifMatchEtag + "\"";
  auto response = send("PUT", key, {}, std::move(headers), body);
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  return Status::ok();
}

Status S3Client::createBucket() {
  const std::string what = "creating bucket " + options_.bucket;
  auto response = send("PUT", "", {}, {}, "");
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status == 200 || response->body.find("BucketAlreadyOwnedByYou") != std::string::npos) {
    return Status::ok();
  }
  return s3Error(*response, what);
}

Status S3Client::remove(const std::string& key) {
  const std::string what = "DELETE " + describe(key);
  auto response = send("DELETE", key, {}, {}, "");
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 204 && response->status != 200 && response->status != 404) return s3Error(*response, what);
  return Status::ok();
}

Status S3Client::copy(const std::string& fromKey, const std::string& toKey) {
  const std::string what = "copying " + describe(fromKey) + " to " + toKey;
  std::map<std::string, std::string> headers = {
      {"x-amz-copy-source", "/" + percentEncode(options_.bucket) + "/" + percentEncode(fromKey, {.keepSlash = true})}};
  auto response = send("PUT", toKey, {}, std::move(headers), "");
  if (!response.isOk()) return response.status().withContext(what);
  // A copy can fail after a 200 header: the error is then in the body.
  if (response->status != 200 || response->body.find("<Error>") != std::string::npos) {
    return s3Error(response->status == 200 ? http::Response{500, {}, response->body} : *response, what);
  }
  return Status::ok();
}

Status S3Client::tag(const std::string& key, const std::string& tagKey, const std::string& tagValue) {
  const std::string what = "tagging " + describe(key);
  auto escape = [](const std::string& text) {
    std::string out;
    for (char c : text) {
      if (c == '&')
        out += "&amp;";
      else if (c == '<')
        out += "&lt;";
      else if (c == '>')
        out += "&gt;";
      else
        out += c;
    }
    return out;
  };
  std::string body = "<Tagging><TagSet><Tag><Key>" + escape(tagKey) + "</Key><Value>" + escape(tagValue) +
                     "</Value></Tag></TagSet></Tagging>";
  auto response = send("PUT", key, {{"tagging", ""}}, {{"content-md5", contentMd5(body)}}, body);
  if (!response.isOk()) return response.status().withContext(what);
  if (response->status != 200) return s3Error(*response, what);
  return Status::ok();
}

}  // namespace sluice::objectstore
