#include "runtime/pipeline/pipeline.h"

#include <archive.h>
#include <archive_entry.h>

#include <gtest/gtest.h>

#include "runtime/config/config_parser.h"

namespace sluice::runtime::pipeline {
namespace {

using nlohmann::json;

// Builds a pipeline from the YAML list under `pipeline:`.
std::unique_ptr<Pipeline> build(const std::string& pipelineYaml) {
  std::string text =
      "name: t\nruntime: builtin\noutputs:\n  - {name: out, dir: {path: /tmp}}\n"
      "  - {name: alerts, dir: {path: /tmp}}\n  - {name: audit, dir: {path: /tmp}}\npipeline:\n" +
      pipelineYaml;
  auto config = config::parseFunctionConfig(text);
  EXPECT_TRUE(config.isOk()) << config.status().toString();
  if (!config) return nullptr;
  auto built = Pipeline::build(config->pipeline);
  EXPECT_TRUE(built.isOk()) << built.status().toString();
  return built ? std::move(*built) : nullptr;
}

Event event(std::string data) {
  Event e;
  e.id = "t/0/1";
  e.source = "kafka";
  e.key = "key-1";
  e.headers = {{"h", "1"}};
  e.partition = 7;
  e.offset = 1;
  e.data = std::move(data);
  return e;
}

std::vector<std::string> values(const Result<std::vector<Record>>& out) {
  std::vector<std::string> v;
  if (out) {
    for (const auto& r : *out) v.push_back(r.value);
  }
  return v;
}

struct Case {
  const char* name;
  const char* pipeline;
  std::string input;
  std::vector<std::string> output;
  std::string error;  // exact message when the event fails
};

class OperatorTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(OperatorTableTest, Transforms) {
  auto p = build(GetParam().pipeline);
  ASSERT_NE(p, nullptr);
  auto out = p->handle(event(GetParam().input), {});
  if (!GetParam().error.empty()) {
    ASSERT_FALSE(out.isOk());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(out.status().message(), GetParam().error);
    return;
  }
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(values(out), GetParam().output);
}

INSTANTIATE_TEST_SUITE_P(
    Table, OperatorTableTest,
    ::testing::Values(
        // filter
        Case{"FilterKeeps",
             "  - filter: {expression: 'level == \"ERROR\" && status >= 500'}",
             R"({"level":"ERROR","status":503})",
             {R"({"level":"ERROR","status":503})"},
             ""},
        Case{"FilterDrops",
             "  - filter: {expression: 'level == \"ERROR\" && status >= 500'}",
             R"({"level":"INFO","status":503})",
             {},
             ""},
        Case{"FilterKeepsBytesUnchanged", "  - filter: {expression: 'a == 1'}", "{ \"a\" : 1 }", {"{ \"a\" : 1 }"}, ""},
        Case{"FilterInvalidJson",
             "  - filter: {expression: 'a == 1'}",
             "{oops",
             {},
             "pipeline[0] filter: record value is not JSON: [json.exception.parse_error.101] parse error at line 1, "
             "column 2: syntax error while parsing object key - invalid literal; last read: '{o'; expected string "
             "literal"},
        Case{"FilterNotObject",
             "  - filter: {expression: 'a == 1'}",
             "[1,2]",
             {},
             "pipeline[0] filter: record value is a JSON array, not an object"},
        Case{"FilterTypeError",
             "  - filter: {expression: 'level - 1 > 0'}",
             R"({"level":"x"})",
             {},
             "pipeline[0] filter: expression: operator - needs two numbers, got string and number"},
        Case{"FilterBinary",
             "  - filter: {expression: 'a == 1'}",
             std::string("\xff\x00\x01", 3),
             {},
             "pipeline[0] filter: record value is not JSON: [json.exception.parse_error.101] parse error at line 1, "
             "column 1: syntax error while parsing value - invalid literal; last read: '<FF>'"},
        // map / project / rename / set
        Case{"Map",
             "  - map: {fields: {total: 'price * qty', who: 'upper(user.name)', 'meta.ok': 'true'}}",
             R"({"price":2.5,"qty":4,"user":{"name":"ada"}})",
             {R"({"meta":{"ok":true},"price":2.5,"qty":4,"total":10.0,"user":{"name":"ada"},"who":"ADA"})"},
             ""},
        Case{"MapIntoNonObject",
             "  - map: {fields: {'a.b': '1'}}",
             R"({"a":5})",
             {},
             "pipeline[0] map: cannot set a.b: a is not an object"},
        Case{"Project",
             "  - project: {fields: [id, user.name, missing]}",
             R"({"id":1,"user":{"name":"a","pw":"x"},"z":2})",
             {R"({"id":1,"user":{"name":"a"}})"},
             ""},
        Case{"Rename",
             "  - rename: {fields: {msg: message, 'user.name': who}}",
             R"({"msg":"hi","user":{"name":"a"}})",
             {R"({"message":"hi","user":{},"who":"a"})"},
             ""},
        Case{"Set",
             "  - set: {fields: {env: prod, 'tags.v': 2}}",
             R"({"a":1})",
             {R"({"a":1,"env":"prod","tags":{"v":2}})"},
             ""},
        // mask
        Case{"MaskRaw",
             "  - mask: {pattern: '\\d{4}-\\d{4}-\\d{4}-(\\d{4})', replacement: '****-\\1'}",
             "card 1234-5678-9012-3456 ok",
             {"card ****-3456 ok"},
             ""},
        Case{"MaskField",
             "  - mask: {field: user.email, pattern: '[^@]+@', replacement: '***@'}",
             R"({"user":{"email":"ada@example.com"},"n":1})",
             {R"({"n":1,"user":{"email":"***@example.com"}})"},
             ""},
        Case{"MaskFieldMissing", "  - mask: {field: email, pattern: 'x'}", R"({"n":1})", {R"({"n":1})"}, ""},
        // parse
        Case{"ParseJsonField",
             "  - parse: {format: json, field: payload}",
             R"({"payload":"{\"a\":1}","b":2})",
             {R"({"a":1,"b":2,"payload":"{\"a\":1}"})"},
             ""},
        Case{"ParseJsonFieldBad",
             "  - parse: {format: json, field: payload}",
             R"({"payload":"{x"})",
             {},
             "pipeline[0] parse: not JSON: [json.exception.parse_error.101] parse error at line 1, column 2: syntax "
             "error while parsing object key - invalid literal; last read: '{x'; expected string literal"},
        Case{"ParseRegex",
             "  - parse: {format: regex, pattern: '^(?P<ip>\\S+) (?P<method>[A-Z]+) (?P<path>\\S+)'}",
             "10.0.0.1 GET /index.html 200",
             {R"({"ip":"10.0.0.1","method":"GET","path":"/index.html"})"},
             ""},
        Case{"ParseRegexNoMatch",
             "  - parse: {format: regex, pattern: '^(?P<n>\\d+)$'}",
             "abc",
             {},
             "pipeline[0] parse: does not match pattern ^(?P<n>\\d+)$"},
        Case{"ParseKeyValue",
             "  - parse: {format: keyvalue}",
             R"(level=ERROR msg="disk full" code=507 junk)",
             {R"({"code":"507","level":"ERROR","msg":"disk full"})"},
             ""},
        Case{"ParseKeyValueTarget",
             "  - parse: {format: keyvalue, field: line, target: kv, pairSeparator: ';'}",
             R"({"line":"a=1;b=2"})",
             {R"({"kv":{"a":"1","b":"2"},"line":"a=1;b=2"})"},
             ""},
        Case{"ParseThenFilter",
             "  - parse: {format: keyvalue}\n  - filter: {expression: 'level == \"ERROR\"'}",
             "level=INFO msg=x",
             {},
             ""},
        // route
        Case{"RouteMatch",
             "  - route: {field: level, routes: {ERROR: alerts}, default: out}",
             R"({"level":"ERROR"})",
             {R"({"level":"ERROR"})"},
             ""},
        Case{"RouteDropUnmatched", "  - route: {field: level, routes: {ERROR: alerts}}", R"({"level":"INFO"})", {}, ""},
        // mirror keeps bytes
        Case{"Mirror", "  - mirror: {}", std::string("\x00\xffraw", 5), {std::string("\x00\xffraw", 5)}, ""}),
    [](const ::testing::TestParamInfo<Case>& param) { return param.param.name; });

TEST(PipelineTest, RouteSetsSinkAndMirrorKeepsKeyHeadersPartition) {
  auto route = build("  - route: {field: level, routes: {ERROR: alerts, '500': audit}, default: out}");
  auto a = route->handle(event(R"({"level":"ERROR"})"), {});
  EXPECT_EQ((*a)[0].sink, "alerts");
  auto b = route->handle(event(R"({"level":500})"), {});
  EXPECT_EQ((*b)[0].sink, "audit");
  auto c = route->handle(event(R"({"level":"DEBUG"})"), {});
  EXPECT_EQ((*c)[0].sink, "out");
  EXPECT_FALSE((*c)[0].partition.has_value());  // only mirror keeps the partition

  for (const char* yaml : {"  - mirror: {}", "  - mirror:\n  - mirror: {}", "  - set: {fields: {a: 1}}\n  - mirror:"}) {
    auto mirror = build(yaml);
    ASSERT_NE(mirror, nullptr) << yaml;
    auto out = mirror->handle(event(R"({"x":1})"), {});
    ASSERT_TRUE(out.isOk());
    ASSERT_EQ(out->size(), 1u);
    EXPECT_EQ((*out)[0].key, "key-1");
    Headers expected = {{"h", "1"}};
    EXPECT_EQ((*out)[0].headers, expected);
    EXPECT_EQ((*out)[0].partition, 7);
  }
}

// Topic identity, MM2-style prefix and active/active loop prevention, on both
// the copy path (only mirror steps) and the general path (after another step).
TEST(PipelineTest, MirrorRenamesTopicsAndSkipsRecordsFromItsTarget) {
  for (const char* before : {"", "  - set: {fields: {a: 1}}\n"}) {
    Event in = event(R"({"x":1})");
    in.subject = "orders";
    auto identity = build(std::string(before) + "  - mirror: {rename: identity}");
    ASSERT_NE(identity, nullptr);
    auto same = identity->handle(in, {});
    ASSERT_TRUE(same.isOk() && same->size() == 1u) << before;
    EXPECT_EQ((*same)[0].topic, "orders");
    EXPECT_EQ((*same)[0].partition, 7);

    auto prefixed = build(std::string(before) + "  - mirror: {rename: prefix, sourceAlias: A, targetAlias: B}");
    ASSERT_NE(prefixed, nullptr);
    auto out = prefixed->handle(in, {});
    ASSERT_TRUE(out.isOk() && out->size() == 1u) << before;
    EXPECT_EQ((*out)[0].topic, "A.orders");  // the default prefix: "<sourceAlias>."
    Headers stamped = {{"h", "1"}, {kMirrorOriginHeader, "A"}};
    EXPECT_EQ((*out)[0].headers, stamped);

    Event fromB = in;
    fromB.headers.push_back({kMirrorOriginHeader, "B"});
    auto skipped = prefixed->handle(fromB, {});
    ASSERT_TRUE(skipped.isOk());
    EXPECT_TRUE(skipped->empty()) << "a record that came from the target must not go back";

    Event fromC = in;
    fromC.headers.push_back({kMirrorOriginHeader, "C"});
    auto kept = prefixed->handle(fromC, {});
    ASSERT_TRUE(kept.isOk() && kept->size() == 1u);
    EXPECT_EQ((*kept)[0].headers, fromC.headers) << "the first origin is kept, not restamped";
  }
}

// ---- decompress

std::string gzip(const std::string& content) {
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_raw(a);
  std::vector<char> buffer(content.size() + 4096);
  size_t used = 0;
  archive_write_open_memory(a, buffer.data(), buffer.size(), &used);
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_write_header(a, e);
  archive_write_data(a, content.data(), content.size());
  archive_entry_free(e);
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buffer.data(), used);
}

std::string archiveOf(bool zip, const std::vector<std::pair<std::string, std::string>>& files) {
  archive* a = archive_write_new();
  if (zip) {
    archive_write_set_format_zip(a);
  } else {
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
  }
  std::vector<char> buffer(1 << 20);
  size_t used = 0;
  archive_write_open_memory(a, buffer.data(), buffer.size(), &used);
  for (const auto& [name, content] : files) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buffer.data(), used);
}

TEST(DecompressTest, GzipBecomesOneRecordPerLine) {
  auto p = build("  - decompress: {format: gzip}");
  auto out = p->handle(event(gzip("first line\r\nsecond\n\nthird")), {});
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(values(out), (std::vector<std::string>{"first line", "second", "third"}));
  EXPECT_EQ((*out)[0].key, "key-1");
}

TEST(DecompressTest, ZipAndTarGzEntriesAreSplitAndNamed) {
  auto p = build("  - decompress: {}");
  auto zip = p->handle(event(archiveOf(true, {{"a.log", "a1\na2\n"}, {"b.log", "b1"}})), {});
  ASSERT_TRUE(zip.isOk()) << zip.status().toString();
  EXPECT_EQ(values(zip), (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ((*zip)[2].headers.back(), (std::pair<std::string, std::string>{"sluice.archive.entry", "b.log"}));

  auto tar = p->handle(event(archiveOf(false, {{"x/y.log", "y1\ny2"}})), {});
  ASSERT_TRUE(tar.isOk()) << tar.status().toString();
  EXPECT_EQ(values(tar), (std::vector<std::string>{"y1", "y2"}));

  auto whole = build("  - decompress: {format: zip, split: none}");
  auto entries = whole->handle(event(archiveOf(true, {{"a.log", "a1\na2\n"}})), {});
  EXPECT_EQ(values(entries), (std::vector<std::string>{"a1\na2\n"}));
}

TEST(DecompressTest, BadArchivesAreClearErrors) {
  auto gz = build("  - decompress: {format: gzip}");
  auto notGzip = gz->handle(event("plain text"), {});
  ASSERT_FALSE(notGzip.isOk());
  EXPECT_EQ(notGzip.status().message(), "pipeline[0] decompress: object \"key-1\": not gzip data");

  std::string truncated = gzip(std::string(100'000, 'a') + "\n" + std::string(1000, 'b'));
  truncated.resize(truncated.size() / 2);
  auto cut = gz->handle(event(truncated), {});
  ASSERT_FALSE(cut.isOk());
  EXPECT_EQ(cut.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(cut.status().message(),
            "pipeline[0] decompress: object \"key-1\": cannot open archive: truncated gzip input");

  auto bomb = build("  - decompress: {format: gzip, maxBytes: 1000}");
  auto big = bomb->handle(event(gzip(std::string(10'000, 'z'))), {});
  EXPECT_EQ(big.status().message(),
            "pipeline[0] decompress: object \"key-1\": decompressed size exceeds the limit of 1000 bytes "
            "(decompress.maxBytes; default: a quarter of the memory limit)");
  Event upload = event(gzip(std::string(10'000, 'z')));
  upload.key = "logs/2026/12/05/partner-a.gz";
  auto named = bomb->handle(upload, {});
  EXPECT_EQ(named.status().message(),
            "pipeline[0] decompress: object \"logs/2026/12/05/partner-a.gz\": decompressed size exceeds the limit of "
            "1000 bytes (decompress.maxBytes; default: a quarter of the memory limit)");

  auto zip = build("  - decompress: {format: zip}");
  auto garbage = zip->handle(event(std::string("\x50\x4b\x03\x04garbage", 11)), {});
  EXPECT_FALSE(garbage.isOk());
}

TEST(PipelineTest, LogCleansingScenario) {
  // Seed scenario 1: gzip logs -> lines -> parsed -> errors only -> masked -> projected.
  auto p = build(
      "  - decompress: {format: gzip}\n"
      "  - parse: {format: regex, pattern: '^(?P<time>\\S+) (?P<level>[A-Z]+) (?P<msg>.*)$'}\n"
      "  - filter: {expression: 'level in [\"ERROR\", \"WARN\"]'}\n"
      "  - mask: {field: msg, pattern: '\\b\\d{11}\\b', replacement: '<phone>'}\n"
      "  - project: {fields: [time, level, msg]}\n");
  std::string logs =
      "2024-01-01T00:00:00Z INFO started\n"
      "2024-01-01T00:00:01Z ERROR user 13800138000 failed login\n"
      "2024-01-01T00:00:02Z WARN slow disk\n";
  auto out = p->handle(event(gzip(logs)), {});
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(values(out), (std::vector<std::string>{
                             R"({"level":"ERROR","msg":"user <phone> failed login","time":"2024-01-01T00:00:01Z"})",
                             R"({"level":"WARN","msg":"slow disk","time":"2024-01-01T00:00:02Z"})"}));
}

TEST(PipelineTest, HugePayloadThroughMirrorAndFilter) {
  std::string big = R"({"level":"ERROR","blob":")" + std::string(size_t{10} * 1024 * 1024, 'x') + "\"}";
  auto filter = build("  - filter: {expression: 'level == \"ERROR\"'}");
  auto out = filter->handle(event(big), {});
  ASSERT_TRUE(out.isOk());
  EXPECT_EQ((*out)[0].value.size(), big.size());
  auto mirror = build("  - mirror: {}");
  EXPECT_EQ((*mirror->handle(event(big), {}))[0].value.size(), big.size());
}

}  // namespace
}  // namespace sluice::runtime::pipeline
