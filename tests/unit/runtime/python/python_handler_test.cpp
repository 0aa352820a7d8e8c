#include "runtime/python/python_runtime.h"

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::runtime::python {
namespace {

namespace fs = std::filesystem;

// A fresh code directory per test, holding index.py (and any other files).
class CodeDir {
 public:
  explicit CodeDir(const std::string& name) {
    path_ = fs::path(::testing::TempDir()) / ("sluice-py-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~CodeDir() { fs::remove_all(path_); }
  CodeDir& file(const std::string& name, const std::string& text) {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name) << text;
    return *this;
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

HandlerOptions options(std::chrono::milliseconds timeout = std::chrono::seconds(10),
                       config::EventShape shape = config::EventShape::kCanonical) {
  HandlerOptions o;
  o.functionName = "fn";
  o.namespaceName = "ns";
  o.timeout = timeout;
  o.eventShape = shape;
  o.shapeOptions.triggerName = "trig";
  o.shapeOptions.bootstrapServers = "127.0.0.1:9092";
  return o;
}

std::unique_ptr<PythonHandler> load(const CodeDir& dir, HandlerOptions o = options(),
                                    const std::string& handler = "index.main_handler") {
  LoadOptions l;
  l.codeDir = dir.path();
  l.handler = handler;
  auto loaded = PythonRuntime::instance().load(l, std::move(o));
  EXPECT_TRUE(loaded.isOk()) << loaded.status().toString();
  return loaded ? std::move(*loaded) : nullptr;
}

Event kafkaEvent(std::string data) {
  Event e;
  e.id = "orders/2/41";
  e.source = "kafka";
  e.type = "kafka.record";
  e.subject = "orders";
  e.key = "k1";
  e.headers = {{"trace", "t-1"}, {"trace", "t-2"}, {"bin", std::string("\xff\x00", 2)}};
  e.partition = 2;
  e.offset = 41;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  e.data = std::move(data);
  return e;
}

InvocationContext ctx(int attempt = 1) {
  InvocationContext c;
  c.requestId = "req-1";
  c.functionName = "fn";
  c.triggerName = "trig";
  c.attempt = attempt;
  return c;
}

// The seed lesson's sample, byte for byte.
const char* kSeedSample = R"PY(import logging
logger = logging.getLogger()
logger.setLevel(logging.INFO)

def main_handler(event, context):
    logger.info('got event{}'.format(event))
    print("got event{}".format(event))
    return 'Hello World!'
)PY";

TEST(PythonHandlerTest, SeedSampleRunsUnchanged) {
  CodeDir dir("seed");
  dir.file("index.py", kSeedSample);
  auto handler = load(dir);
  ASSERT_NE(handler, nullptr);
  auto out = handler->handle(kafkaEvent("hello"), ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].value, "Hello World!");
  EXPECT_FALSE((*out)[0].key.has_value());
  EXPECT_TRUE(PythonRuntime::instance().healthy());
}

const char* kReturnTable = R"PY(
RESULTS = {
    "none": None,
    "str": "h\u00e9llo",
    "bytes": b"\x00\xff",
    "bytearray": bytearray(b"ab"),
    "dict": {"b": "x", "a": 1},
    "explicit": {"value": "v", "key": "k", "headers": {"h": "1", "b": b"\x01"}, "sink": "alerts", "partition": 3},
    "explicit_json": {"value": {"n": 1}, "key": b"\xfe"},
    "explicit_pairs": {"value": b"v", "headers": [("x", "1"), ("x", "2")]},
    "not_explicit": {"value": 1, "other": 2},
    "list": ["a", b"b", {"c": 1}, None],
    "tuple": ("x", "y"),
    "nested": [[1, 2]],
    "int": 42,
    "float": 1.5,
    "bool": True,
    "empty_list": [],
    "set": {1, 2},
    "bad_key": {"value": "v", "key": 5},
    "bad_sink": {"value": "v", "sink": 1},
    "bad_partition": {"value": "v", "partition": "3"},
    "bad_headers": {"value": "v", "headers": 7},
    "surrogate": "a\udcff",
}

def main_handler(event, context):
    return RESULTS[event["data"]]
)PY";

struct ReturnCase {
  const char* input;
  std::vector<std::string> values;  // expected record values
  std::string error;                // or this error message
};

class ReturnMappingTest : public ::testing::TestWithParam<ReturnCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new CodeDir("returns");
    dir_->file("index.py", kReturnTable);
    handler_ = load(*dir_).release();
  }
  static void TearDownTestSuite() {
    delete handler_;
    delete dir_;
  }
  static CodeDir* dir_;
  static PythonHandler* handler_;
};
CodeDir* ReturnMappingTest::dir_ = nullptr;
PythonHandler* ReturnMappingTest::handler_ = nullptr;

TEST_P(ReturnMappingTest, MapsToRecords) {
  ASSERT_NE(handler_, nullptr);
  auto out = handler_->handle(kafkaEvent(GetParam().input), ctx());
  if (!GetParam().error.empty()) {
    ASSERT_FALSE(out.isOk());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(out.status().message(), GetParam().error);
    return;
  }
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  std::vector<std::string> values;
  for (const auto& r : *out) values.push_back(r.value);
  EXPECT_EQ(values, GetParam().values);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ReturnMappingTest,
    ::testing::Values(
        ReturnCase{"none", {}, ""}, ReturnCase{"str", {"h\xc3\xa9llo"}, ""},
        ReturnCase{"bytes", {std::string("\x00\xff", 2)}, ""}, ReturnCase{"bytearray", {"ab"}, ""},
        ReturnCase{"dict", {R"({"b":"x","a":1})"}, ""}, ReturnCase{"explicit", {"v"}, ""},
        ReturnCase{"explicit_json", {R"({"n":1})"}, ""}, ReturnCase{"explicit_pairs", {"v"}, ""},
        ReturnCase{"not_explicit", {R"({"value":1,"other":2})"}, ""}, ReturnCase{"list", {"a", "b", R"({"c":1})"}, ""},
        ReturnCase{"tuple", {"x", "y"}, ""}, ReturnCase{"nested", {"[1,2]"}, ""}, ReturnCase{"int", {"42"}, ""},
        ReturnCase{"float", {"1.5"}, ""}, ReturnCase{"bool", {"true"}, ""}, ReturnCase{"empty_list", {}, ""},
        ReturnCase{"surrogate", {std::string("a\xff")}, ""},
        ReturnCase{"set",
                   {},
                   "handler returned a set that cannot be encoded as JSON: TypeError: Object of type set is not JSON "
                   "serializable"},
        ReturnCase{"bad_key", {}, "record key must be str, bytes or None, got int"},
        ReturnCase{"bad_sink", {}, "record sink must be str, got int"},
        ReturnCase{"bad_partition", {}, "record partition must be int, got str"},
        ReturnCase{"bad_headers", {}, "record headers must be a dict or a list of pairs, got int"}));

TEST_F(ReturnMappingTest, ExplicitRecordKeepsKeyHeadersSinkPartition) {
  auto out = handler_->handle(kafkaEvent("explicit"), ctx());
  ASSERT_TRUE(out.isOk());
  const Record& r = (*out)[0];
  EXPECT_EQ(r.key, "k");
  EXPECT_EQ(r.sink, "alerts");
  EXPECT_EQ(r.partition, 3);
  Headers expected = {{"h", "1"}, {"b", "\x01"}};
  EXPECT_EQ(r.headers, expected);

  auto pairs = handler_->handle(kafkaEvent("explicit_pairs"), ctx());
  Headers expectedPairs = {{"x", "1"}, {"x", "2"}};
  EXPECT_EQ((*pairs)[0].headers, expectedPairs);
  auto binaryKey = handler_->handle(kafkaEvent("explicit_json"), ctx());
  EXPECT_EQ((*binaryKey)[0].key, std::string("\xfe"));
}

TEST(PythonHandlerTest, ExceptionBecomesErrorWithTypeAndMessage) {
  CodeDir dir("raise");
  dir.file("index.py", "def main_handler(event, context):\n    raise ValueError('bad input %d' % 42)\n");
  auto handler = load(dir);
  auto out = handler->handle(kafkaEvent("x"), ctx());
  ASSERT_FALSE(out.isOk());
  EXPECT_EQ(out.status().code(), StatusCode::kInternal);
  EXPECT_EQ(out.status().message(), "ValueError: bad input 42");
  // The interpreter is fine afterwards.
  dir.file("ok.py", "def h(event, context):\n    return 'fine'\n");
  auto ok = load(dir, options(), "ok.h");
  EXPECT_EQ((*ok->handle(kafkaEvent("x"), ctx()))[0].value, "fine");
}

TEST(PythonHandlerTest, CustomExceptionClassName) {
  CodeDir dir("custom");
  dir.file("index.py",
           "class PoisonMessage(Exception):\n    pass\n"
           "def main_handler(event, context):\n    raise PoisonMessage()\n");
  auto out = load(dir)->handle(kafkaEvent("x"), ctx());
  EXPECT_EQ(out.status().message(), "PoisonMessage");
}

TEST(PythonHandlerTest, TimeoutInterruptsSleepAndBusyLoops) {
  CodeDir dir("timeout");
  dir.file("index.py",
           "import time\n"
           "def main_handler(event, context):\n"
           "    if event['data'] == 'sleep':\n        time.sleep(30)\n"
           "    elif event['data'] == 'spin':\n        while True:\n            pass\n"
           "    return 'done'\n");
  // Generous: the assertion is on the outcome, and a loaded machine may be slow to start the call.
  auto handler = load(dir, options(std::chrono::milliseconds(1000)));
  for (const char* mode : {"sleep", "spin"}) {
    auto out = handler->handle(kafkaEvent(mode), ctx());
    ASSERT_FALSE(out.isOk()) << mode;
    EXPECT_EQ(out.status().code(), StatusCode::kDeadlineExceeded) << mode;
    EXPECT_EQ(out.status().message(), "handler exceeded its timeout of 1000ms") << mode;
  }
  EXPECT_TRUE(PythonRuntime::instance().healthy());
  auto after = handler->handle(kafkaEvent("quick"), ctx());
  ASSERT_TRUE(after.isOk()) << after.status().toString();
  EXPECT_EQ((*after)[0].value, "done");
}

// One trip to the Python thread for a whole batch, yet each event keeps its own
// context, error and timeout, and the batch goes on after a failing event.
TEST(PythonHandlerTest, HandleEachKeepsPerEventContextErrorsAndTimeouts) {
  CodeDir dir("each");
  dir.file("index.py",
           "import time\n"
           "def main_handler(event, context):\n"
           "    if event['data'] == 'boom':\n        raise ValueError('boom')\n"
           "    if event['data'] == 'sleep':\n        time.sleep(30)\n"
           "    if event['data'] == 'spin':\n        while True:\n            pass\n"
           "    return event['data'] + '@' + context.request_id + '#' + str(context.attempt)\n");
  auto handler = load(dir, options(std::chrono::milliseconds(1000)));
  std::vector<Event> events;
  for (const char* data : {"a", "boom", "sleep", "spin", "z"}) {
    events.push_back(kafkaEvent(data));
    events.back().id = std::string("orders/2/") + data;
  }
  InvocationContext context = ctx(2);
  auto results = handler->handleEach(events, context, std::chrono::milliseconds(1000));
  ASSERT_EQ(results.size(), 5u);
  ASSERT_TRUE(results[0].outputs.isOk()) << results[0].outputs.status().toString();
  EXPECT_EQ(results[0].outputs.value().at(0).value, "a@orders/2/a#2");
  ASSERT_FALSE(results[1].outputs.isOk());
  EXPECT_EQ(results[1].outputs.status().message(), "ValueError: boom");
  for (int i : {2, 3}) {
    ASSERT_FALSE(results[i].outputs.isOk()) << i;
    EXPECT_EQ(results[i].outputs.status().code(), StatusCode::kDeadlineExceeded) << i;
    EXPECT_EQ(results[i].outputs.status().message(), "handler exceeded its timeout of 1000ms") << i;
    EXPECT_GE(results[i].seconds, 1.0) << i;
  }
  ASSERT_TRUE(results[4].outputs.isOk()) << results[4].outputs.status().toString();
  EXPECT_EQ(results[4].outputs.value().at(0).value, "z@orders/2/z#2");
  EXPECT_TRUE(PythonRuntime::instance().healthy());
}

// handleEach builds canonical events straight into dicts; they must equal the JSON path's
// (handle()), key order, repeated and binary headers, None key and all.
TEST(PythonHandlerTest, HandleEachBuildsTheSameCanonicalEventAsHandle) {
  CodeDir dir("same");
  dir.file("index.py",
           "def main_handler(event, context):\n"
           "    return repr(list(event.items()))\n");
  auto handler = load(dir);
  Event keyless = kafkaEvent("no key");
  keyless.key.reset();
  keyless.partition.reset();
  std::vector<Event> events = {kafkaEvent("text"), kafkaEvent(std::string("\xff\xfe", 2)), keyless};
  auto each = handler->handleEach(events, ctx(), std::chrono::seconds(10));
  ASSERT_EQ(each.size(), events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    auto one = handler->handle(events[i], ctx());
    ASSERT_TRUE(one.isOk()) << one.status().toString();
    ASSERT_TRUE(each[i].outputs.isOk()) << each[i].outputs.status().toString();
    EXPECT_EQ(each[i].outputs.value().at(0).value, one.value().at(0).value) << i;
  }
}

// The context is filled from C++ (no Python __init__) and event fields that
// repeat (source, subject, type, time) are converted once: each event must
// still get its own values, handlers may set their own context attributes, and
// log records carry the running event's id ("-" between calls).
TEST(PythonHandlerTest, HandleEachGivesEachEventItsOwnContextFieldsAndLogRequestId) {
  CodeDir dir("percall");
  dir.file("index.py",
           "import logging\n"
           "seen = []\n"
           "class Capture(logging.Handler):\n"
           "    def emit(self, record):\n"
           "        seen.append(record.request_id)\n"
           "logging.getLogger().addHandler(Capture())\n"
           "logging.getLogger('import').warning('importing')\n"
           "def main_handler(event, context):\n"
           "    context.mine = event['subject']\n"
           "    context.logger.warning('working')\n"
           "    logging.getLogger('outside').warning('between')\n"
           "    return '|'.join([context.request_id, context.mine, event['time'], event['type'], seen[-1],\n"
           "                     str(context.attempt), repr(context), str(len(seen))])\n"
           "def first_and_last_seen(event, context):\n"
           "    logging.getLogger().warning('called')\n"
           "    return seen[0] + ',' + seen[-1]\n");
  auto handler = load(dir);
  std::vector<Event> events;
  using std::chrono::milliseconds;
  for (int64_t ms : {1'700'000'000'123, 1'700'000'000'123, 1'700'000'000'999, 1'700'000'001'005}) {
    events.push_back(kafkaEvent("x"));
    events.back().id = "orders/2/" + std::to_string(events.size());
    events.back().subject = events.size() % 2 == 0 ? "orders" : "returns";
    events.back().type = events.size() == 4 ? "kafka.other" : "kafka.record";
    events.back().time = std::chrono::system_clock::time_point(milliseconds(ms));
  }
  auto results = handler->handleEach(events, ctx(2), std::chrono::seconds(10));
  ASSERT_EQ(results.size(), 4u);
  const char* expected[] = {
      "orders/2/1|returns|2023-11-14T22:13:20.123Z|kafka.record|orders/2/1|2|"
      "Context(request_id='orders/2/1', function_name='fn', trigger='trig', attempt=2)|3",
      "orders/2/2|orders|2023-11-14T22:13:20.123Z|kafka.record|orders/2/2|2|"
      "Context(request_id='orders/2/2', function_name='fn', trigger='trig', attempt=2)|5",
      "orders/2/3|returns|2023-11-14T22:13:20.999Z|kafka.record|orders/2/3|2|"
      "Context(request_id='orders/2/3', function_name='fn', trigger='trig', attempt=2)|7",
      "orders/2/4|orders|2023-11-14T22:13:21.005Z|kafka.other|orders/2/4|2|"
      "Context(request_id='orders/2/4', function_name='fn', trigger='trig', attempt=2)|9",
  };
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(results[i].outputs.isOk()) << results[i].outputs.status().toString();
    EXPECT_EQ(results[i].outputs.value().at(0).value, expected[i]) << i;
  }
  // Outside a call (the import that loading the module again runs, after the batch) log
  // records carry "-".
  auto again = load(dir, options(), "index.first_and_last_seen");
  auto out = again->handle(kafkaEvent("x"), ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ(out->at(0).value, "-,req-1");
}

// batchSize > 1: the handler receives the batch as one list of canonical events.
TEST(PythonHandlerTest, HandleBatchPassesAListOfCanonicalEvents) {
  CodeDir dir("list");
  dir.file("index.py",
           "def main_handler(events, context):\n"
           "    assert isinstance(events, list)\n"
           "    return [e['data'] + ':' + str(e['offset']) for e in events]\n");
  auto handler = load(dir);
  std::vector<Event> events = {kafkaEvent("x"), kafkaEvent("y")};
  events[1].offset = 42;
  auto out = handler->handleBatch(events, ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].value, "x:41");
  EXPECT_EQ((*out)[1].value, "y:42");
}

// A batch of one (a partition's last record, a requeued one) is still a list:
// a handler written for lists failed on the bare dict ("string indices must be
// integers") and its record was given up.
TEST(PythonHandlerTest, HandleBatchOfOneEventIsStillAList) {
  CodeDir dir("list-of-one");
  dir.file("index.py",
           "def main_handler(events, context):\n"
           "    return [type(events).__name__ + ':' + e['data'] for e in events]\n");
  auto handler = load(dir);
  auto out = handler->handleBatch({kafkaEvent("x")}, ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].value, "list:x");
}

TEST(PythonHandlerTest, ContextCarriesInvocationFacts) {
  CodeDir dir("context");
  dir.file("index.py",
           "def main_handler(event, context):\n"
           "    context.logger.info('hello from %s', context.request_id)\n"
           "    left = context.get_remaining_time_in_millis()\n"
           "    return {'request_id': context.request_id, 'aws': context.aws_request_id,\n"
           "            'function': context.function_name, 'namespace': context.namespace,\n"
           "            'trigger': context.trigger, 'attempt': context.attempt,\n"
           "            'limit': context.time_limit_in_ms, 'left_ok': 0 < left <= 5000,\n"
           "            'deadline_ok': context.deadline_ms > 1700000000000}\n");
  auto handler = load(dir, options(std::chrono::seconds(5)));
  auto out = handler->handle(kafkaEvent("x"), ctx(3));
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ((*out)[0].value,
            R"({"request_id":"req-1","aws":"req-1","function":"fn","namespace":"ns","trigger":"trig","attempt":3,)"
            R"("limit":5000,"left_ok":true,"deadline_ok":true})");
}

TEST(PythonHandlerTest, CanonicalEventAndBinarySafety) {
  CodeDir dir("canonical");
  dir.file(
      "index.py",
      "def main_handler(event, context):\n"
      "    d = event['data']\n"
      "    return {'keys': sorted(event), 'id': event['id'], 'key': event['key'], 'partition': event['partition'],\n"
      "            'offset': event['offset'], 'time': event['time'], 'trace': event['headers']['trace'],\n"
      "            'bin_header': type(event['headers']['bin']).__name__, 'data_type': type(d).__name__,\n"
      "            'size': len(d)}\n");
  auto handler = load(dir);
  auto out = handler->handle(kafkaEvent("plain"), ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ((*out)[0].value,
            R"({"keys":["data","headers","id","key","offset","partition","source","subject","time","type"],)"
            R"("id":"orders/2/41","key":"k1","partition":2,"offset":41,"time":"2023-11-14T22:13:20.123Z",)"
            R"("trace":["t-1","t-2"],"bin_header":"bytes","data_type":"str","size":5})");

  // Invalid UTF-8 and binary payloads arrive as bytes; a 10 MB payload works.
  for (const auto& [payload, type] : std::vector<std::pair<std::string, std::string>>{
           {std::string("\xc3\x28 bad utf8"), "bytes"},
           {std::string("\x00\x01\x02\xff", 4), "bytes"},
           {std::string("\xed\xa0\x80", 3), "bytes"},  // an encoded surrogate is not UTF-8
           {std::string(size_t{10} * 1024 * 1024, 'x'), "str"}}) {
    auto result = handler->handle(kafkaEvent(payload), ctx());
    ASSERT_TRUE(result.isOk()) << result.status().toString();
    EXPECT_NE((*result)[0].value.find("\"data_type\":\"" + type + "\""), std::string::npos) << (*result)[0].value;
    EXPECT_NE((*result)[0].value.find("\"size\":" + std::to_string(payload.size())), std::string::npos);
  }
}

TEST(PythonHandlerTest, InvalidJsonPayloadGivesAClearPerMessageError) {
  CodeDir dir("json");
  dir.file("index.py",
           "import json\n"
           "def main_handler(event, context):\n"
           "    return json.loads(event['data'])['n'] * 2\n");
  auto handler = load(dir);
  auto good = handler->handle(kafkaEvent(R"({"n": 21})"), ctx());
  EXPECT_EQ((*good)[0].value, "42");
  auto bad = handler->handle(kafkaEvent("{not json"), ctx());
  ASSERT_FALSE(bad.isOk());
  EXPECT_EQ(bad.status().message(),
            "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)");
  auto binary = handler->handle(kafkaEvent("\x80"
                                           "abc"),
                                ctx());
  ASSERT_FALSE(binary.isOk());
  EXPECT_EQ(binary.status().message(),
            "UnicodeDecodeError: 'utf-8' codec can't decode byte 0x80 in position 0: invalid start byte");
}

TEST(PythonHandlerTest, LoadErrorsNameModuleAndFunction) {
  CodeDir dir("loaderr");
  dir.file("broken.py", "def main_handler(event, context)\n    return 1\n");
  dir.file("index.py", "main_handler = 5\n");
  LoadOptions l;
  l.codeDir = dir.path();
  auto& runtime = PythonRuntime::instance();

  l.handler = "missing.main_handler";
  auto missing = runtime.load(l, options());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(),
            "cannot import module \"missing\" from " + dir.path() + ": ModuleNotFoundError: No module named 'missing'");
  l.handler = "broken.main_handler";
  auto broken = runtime.load(l, options());
  EXPECT_EQ(broken.status().message(),
            "cannot import module \"broken\" from " + dir.path() + ": SyntaxError: expected ':' (broken.py, line 1)");
  l.handler = "index.other";
  EXPECT_EQ(runtime.load(l, options()).status().message(), "module \"index\" has no function \"other\"");
  l.handler = "index.main_handler";
  EXPECT_EQ(runtime.load(l, options()).status().message(), "\"index.main_handler\" is not callable (it is a int)");
}

TEST(PythonHandlerTest, VendoredDependenciesAndEnvironment) {
  CodeDir dir("vendor");
  dir.file("vendor/textlib/__init__.py", "def shout(s):\n    return s.upper() + '!'\n");
  dir.file("index.py",
           "import os, textlib\n"
           "def main_handler(event, context):\n"
           "    return textlib.shout(event['data']) + os.environ['GREETING_MODE']\n");
  LoadOptions l;
  l.codeDir = dir.path();
  l.environment = {{"GREETING_MODE", "loud"}};
  auto handler = PythonRuntime::instance().load(l, options());
  ASSERT_TRUE(handler.isOk()) << handler.status().toString();
  EXPECT_EQ((*(*handler)->handle(kafkaEvent("hi"), ctx()))[0].value, "HI!loud");
}

TEST(PythonHandlerTest, ConcurrentCallersAreSerialisedSafely) {
  CodeDir dir("concurrent");
  dir.file("index.py",
           "count = 0\ndef main_handler(event, context):\n    global count\n    count += 1\n    return str(count)\n");
  auto handler = load(dir);
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 250; ++i) {
        if (handler->handle(kafkaEvent("x"), ctx()).isOk()) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1000);
  EXPECT_EQ((*handler->handle(kafkaEvent("x"), ctx()))[0].value, "1001");
}

// Counts the calls inside the handler at once (`max`, after the call has
// waited on `barrier`) and holds each call until BARRIER_PARTIES calls are in.
const char* kMeetingHandler = R"PY(
import threading, time
lock = threading.Lock()
state = {"now": 0, "max": 0, "interrupted": 0}
barrier = threading.Barrier(BARRIER_PARTIES, timeout=20)
interrupts = threading.Condition()

def main_handler(event, context):
    with lock:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
    try:
        if BARRIER_PARTIES > 1:
            barrier.wait()
        else:
            time.sleep(0.05)  # room for another call to come in, were calls not one at a time
        mode = event["data"]
        if mode in ("sleep", "spin"):
            try:
                if mode == "sleep":
                    time.sleep(60)
                while True:
                    pass
            except TimeoutError:
                with interrupts:
                    state["interrupted"] += 1
                    interrupts.notify_all()
                raise
        if mode == "wait-for-two-timeouts":
            with interrupts:
                if not interrupts.wait_for(lambda: state["interrupted"] == 2, timeout=20):
                    return "the other calls were not interrupted"
        return str(state["max"])
    finally:
        with lock:
            state["now"] -= 1
)PY";

std::string meetingHandler(int parties) {
  std::string text = kMeetingHandler;
  for (size_t at; (at = text.find("BARRIER_PARTIES")) != std::string::npos;) {
    text.replace(at, std::string("BARRIER_PARTIES").size(), std::to_string(parties));
  }
  return text;
}

HandlerOptions withConcurrency(int concurrency, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  HandlerOptions o = options(timeout);
  o.concurrency = concurrency;
  return o;
}

// `data` for each call, all called at once from threads of their own; each call's outcome.
std::vector<Result<std::vector<Record>>> callAtOnce(PythonHandler& handler, const std::vector<std::string>& data,
                                                    const std::vector<InvocationContext>& contexts) {
  std::vector<Result<std::vector<Record>>> results(data.size(), internalError("not called"));
  std::vector<std::thread> threads;
  threads.reserve(data.size());
  for (size_t i = 0; i < data.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = handler.handle(kafkaEvent(data[i]), contexts[i]); });
  }
  for (auto& t : threads) t.join();
  return results;
}

// Four calls meet at a Barrier(4): possible only when they run at once (one
// at a time, the first would wait for the others until the barrier breaks).
TEST(PythonHandlerTest, ConcurrencyFourRunsFourCallsAtOnce) {
  CodeDir dir("concurrency-4");
  dir.file("index.py", meetingHandler(4));
  auto handler = load(dir, withConcurrency(4));
  ASSERT_NE(handler, nullptr);
  auto results = callAtOnce(*handler, {"a", "b", "c", "d"}, std::vector<InvocationContext>(4, ctx()));
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].isOk()) << i << ": " << results[i].status().toString();
    EXPECT_EQ(results[i].value().at(0).value, "4") << i;  // the most calls ever inside the handler at once
  }
  EXPECT_TRUE(PythonRuntime::instance().healthy());
}

// The default: however many callers, one call inside the handler at a time,
// even with workers left running by a handler of higher concurrency.
TEST(PythonHandlerTest, ConcurrencyOneRunsOneCallAtATime) {
  CodeDir wide("concurrency-wide");
  wide.file("index.py", meetingHandler(4));
  ASSERT_NE(load(wide, withConcurrency(4)), nullptr);  // starts four workers
  CodeDir dir("concurrency-1");
  dir.file("index.py", meetingHandler(1));
  auto handler = load(dir, withConcurrency(1));
  ASSERT_NE(handler, nullptr);
  auto results = callAtOnce(*handler, {"a", "b", "c", "d"}, std::vector<InvocationContext>(4, ctx()));
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i].isOk()) << i << ": " << results[i].status().toString();
    EXPECT_EQ(results[i].value().at(0).value, "1") << i;
  }
}

// Of four calls at once, the two past their deadline (one asleep, one in a
// busy loop) are interrupted, and only they: the other two, still inside
// the handler while that happens, see both interrupts and succeed; and the
// workers serve later calls with nothing left over from the interrupts.
TEST(PythonHandlerTest, ATimeoutInterruptsOnlyItsOwnCallAmongConcurrentOnes) {
  CodeDir dir("concurrency-timeout");
  dir.file("index.py", meetingHandler(4));
  auto handler = load(dir, withConcurrency(4));
  ASSERT_NE(handler, nullptr);
  std::vector<InvocationContext> contexts(4, ctx());
  // A deadline of their own for the two that overrun, long enough for all four to start on a busy machine.
  for (size_t i : {0, 1}) contexts[i].deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  auto results = callAtOnce(*handler, {"sleep", "spin", "wait-for-two-timeouts", "wait-for-two-timeouts"}, contexts);
  for (size_t i : {0, 1}) {
    ASSERT_FALSE(results[i].isOk()) << i;
    EXPECT_EQ(results[i].status().code(), StatusCode::kDeadlineExceeded) << i;
    EXPECT_EQ(results[i].status().message(), "handler exceeded its timeout of 30000ms") << i;
  }
  for (size_t i : {2, 3}) {
    ASSERT_TRUE(results[i].isOk()) << i << ": " << results[i].status().toString();
    EXPECT_EQ(results[i].value().at(0).value, "4") << i;
  }
  EXPECT_TRUE(PythonRuntime::instance().healthy());
  auto after = callAtOnce(*handler, {"a", "b", "c", "d"}, std::vector<InvocationContext>(4, ctx()));
  for (size_t i = 0; i < after.size(); ++i) {
    ASSERT_TRUE(after[i].isOk()) << i << ": " << after[i].status().toString();
  }
}

// ---- SCF and Lambda handlers written for those platforms, unchanged.

TEST(PythonHandlerTest, ScfCkafkaHandlerRunsUnchanged) {
  CodeDir dir("scf-kafka");
  dir.file("index.py",
           "def main_handler(event, context):\n"
           "    out = []\n"
           "    for record in event['Records']:\n"
           "        msg = record['Ckafka']\n"
           "        out.append('%s:%d:%d:%s:%s' % (msg['topic'], msg['partition'], msg['offset'], msg['msgKey'],\n"
           "                                       msg['msgBody']))\n"
           "    return out\n");
  auto handler = load(dir, options(std::chrono::seconds(10), config::EventShape::kScf));
  auto out = handler->handleBatch({kafkaEvent("a"), kafkaEvent("b")}, ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  ASSERT_EQ(out->size(), 2u);
  EXPECT_EQ((*out)[0].value, "orders:2:41:k1:a");
  EXPECT_EQ((*out)[1].value, "orders:2:41:k1:b");
}

Event objectEvent() {
  Event e;
  e.id = "logs/in/app 1.log.gz@etag1";
  e.source = "s3";
  e.type = "object.created";
  e.subject = "logs/in/app 1.log.gz";
  e.headers = {{"sluice.object.bucket", "logs"},
               {"sluice.object.key", "in/app 1.log.gz"},
               {"sluice.object.size", "2048"},
               {"sluice.object.etag", "etag1"}};
  e.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  e.data = "line";
  return e;
}

TEST(PythonHandlerTest, ScfCosAndTimerHandlersRunUnchanged) {
  CodeDir dir("scf-cos");
  dir.file("index.py",
           "def main_handler(event, context):\n"
           "    if 'Type' in event and event['Type'] == 'Timer':\n"
           "        return 'timer %s at %s says %s' % (event['TriggerName'], event['Time'], event['Message'])\n"
           "    rec = event['Records'][0]\n"
           "    return '%s %s %s %d' % (rec['event']['eventName'], rec['cos']['cosBucket']['name'],\n"
           "                            rec['cos']['cosObject']['key'], rec['cos']['cosObject']['size'])\n");
  auto handler = load(dir, options(std::chrono::seconds(10), config::EventShape::kScf));
  auto cos = handler->handle(objectEvent(), ctx());
  ASSERT_TRUE(cos.isOk()) << cos.status().toString();
  EXPECT_EQ((*cos)[0].value, "cos:ObjectCreated:* logs /1250000000/logs/in/app 1.log.gz 2048");

  Event tick;
  tick.id = "nightly-1";
  tick.source = "cron";
  tick.type = "cron.tick";
  tick.subject = "nightly";
  tick.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  tick.data = "user payload";
  auto timer = handler->handle(tick, ctx());
  ASSERT_TRUE(timer.isOk()) << timer.status().toString();
  EXPECT_EQ((*timer)[0].value, "timer trig at 2023-11-14T22:13:20Z says user payload");
}

TEST(PythonHandlerTest, LambdaKafkaS3AndScheduleHandlersRunUnchanged) {
  CodeDir dir("lambda");
  dir.file("lambda_function.py",
           "import base64, urllib.parse\n"
           "def lambda_handler(event, context):\n"
           "    if event.get('source') == 'aws.events':\n"
           "        return '%s %s %s' % (event['detail-type'], event['time'], event['resources'][0])\n"
           "    if event.get('eventSource') == 'SelfManagedKafka':\n"
           "        out = []\n"
           "        for tp, records in event['records'].items():\n"
           "            for r in records:\n"
           "                hdr = bytes(r['headers'][0]['trace']).decode()\n"
           "                out.append('%s %s %s %s %s' % (tp, base64.b64decode(r['key']).decode(),\n"
           "                           base64.b64decode(r['value']).decode(), r['offset'], hdr))\n"
           "        return out\n"
           "    r = event['Records'][0]\n"
           "    key = urllib.parse.unquote_plus(r['s3']['object']['key'], encoding='utf-8')\n"
           "    return '%s %s %s %s' % (r['eventName'], r['s3']['bucket']['name'], key, r['s3']['object']['size'])\n");
  auto handler =
      load(dir, options(std::chrono::seconds(10), config::EventShape::kLambda), "lambda_function.lambda_handler");
  ASSERT_NE(handler, nullptr);
  auto kafka = handler->handle(kafkaEvent("v1"), ctx());
  ASSERT_TRUE(kafka.isOk()) << kafka.status().toString();
  EXPECT_EQ((*kafka)[0].value, "orders-2 k1 v1 41 t-1");

  auto s3 = handler->handle(objectEvent(), ctx());
  ASSERT_TRUE(s3.isOk()) << s3.status().toString();
  EXPECT_EQ((*s3)[0].value, "ObjectCreated:Put logs in/app 1.log.gz 2048");

  Event tick;
  tick.id = "t1";
  tick.source = "cron";
  tick.subject = "nightly";
  tick.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  auto schedule = handler->handle(tick, ctx());
  ASSERT_TRUE(schedule.isOk()) << schedule.status().toString();
  EXPECT_EQ((*schedule)[0].value,
            "Scheduled Event 2023-11-14T22:13:20Z arn:aws:events:us-east-1:000000000000:rule/trig");
}

// A handler that swallows TimeoutError forever: the interpreter is stuck, so
// the replica must report unhealthy. Runs in its own process (death-test
// style) because the condition is permanent by design.
TEST(PythonHandlerDeathTest, StuckInterpreterMarksReplicaUnhealthy) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        CodeDir dir("stuck");
        dir.file("index.py",
                 "import time\n"
                 "def main_handler(event, context):\n"
                 "    while True:\n"
                 "        try:\n"
                 "            time.sleep(10)\n"
                 "        except TimeoutError:\n"
                 "            pass\n");
        HandlerOptions o = options(std::chrono::milliseconds(1000));
        o.stuckGrace = std::chrono::milliseconds(1000);
        LoadOptions l;
        l.codeDir = dir.path();
        auto handler = PythonRuntime::instance().load(l, o);
        if (!handler.isOk() || !pythonHealthy()) std::_Exit(10);
        auto out = (*handler)->handle(kafkaEvent("x"), ctx());
        if (out.status().message() !=
            "handler exceeded its timeout of 1000ms and did not stop; the interpreter is stuck") {
          std::_Exit(11);
        }
        if (pythonHealthy() || PythonRuntime::instance().healthy()) std::_Exit(12);
        auto next = (*handler)->handle(kafkaEvent("x"), ctx());
        if (next.status().code() != StatusCode::kUnavailable) std::_Exit(13);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// The same with two such calls at once (concurrency 2): one runs on the
// interpreter's main thread, the other on a worker thread, where the timeout
// is an asynchronous exception and a woken sleep; both are declared stuck.
TEST(PythonHandlerDeathTest, StuckCallsOnEveryWorkerMarkReplicaUnhealthy) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        CodeDir dir("stuck-two");
        dir.file("index.py",
                 "import threading, time\n"
                 "barrier = threading.Barrier(2, timeout=20)\n"
                 "def main_handler(event, context):\n"
                 "    barrier.wait()\n"
                 "    while True:\n"
                 "        try:\n"
                 "            time.sleep(10)\n"
                 "        except TimeoutError:\n"
                 "            pass\n");
        HandlerOptions o = options(std::chrono::milliseconds(3000));
        o.stuckGrace = std::chrono::milliseconds(1000);
        o.concurrency = 2;
        LoadOptions l;
        l.codeDir = dir.path();
        auto handler = PythonRuntime::instance().load(l, o);
        if (!handler.isOk() || !pythonHealthy()) std::_Exit(10);
        std::string messages[2];
        std::thread other([&] { messages[1] = (*handler)->handle(kafkaEvent("x"), ctx()).status().message(); });
        messages[0] = (*handler)->handle(kafkaEvent("x"), ctx()).status().message();
        other.join();
        for (const std::string& message : messages) {
          if (message != "handler exceeded its timeout of 3000ms and did not stop; the interpreter is stuck") {
            std::_Exit(11);
          }
        }
        if (pythonHealthy() || PythonRuntime::instance().healthy()) std::_Exit(12);
        std::_Exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}

// The context probes: every key/attribute the platforms document, with its type.
TEST(PythonHandlerTest, ScfContextIsADictWithEveryDocumentedKey) {
  CodeDir dir("scf-context");
  dir.file("index.py", R"PY(import json, os
def main_handler(event, context):
    assert isinstance(context, dict)
    return json.dumps({
        "keys": list(context.keys()),
        "types": {k: type(v).__name__ for k, v in context.items()},
        "by_key": context["request_id"], "by_attr": context.request_id, "get": context.get("function_name"),
        "environment": json.loads(context["environment"]), "environ": context.environ,
        "values": [context.memory_limit_in_mb, context.time_limit_in_ms, context.function_version,
                   context.namespace, context.tencentcloud_region, context.tencentcloud_appid,
                   context.tencentcloud_uin],
        "extras": [context.trigger, context.attempt, 0 < context.get_remaining_time_in_millis() <= 10000],
        "os_environ": all(n in os.environ for n in ("SCF_FUNCTIONNAME", "TENCENTCLOUD_APPID", "TENCENTCLOUD_RUNENV")),
    })
)PY");
  HandlerOptions o = options(std::chrono::seconds(10), config::EventShape::kScf);
  o.memoryLimitMb = 256;
  o.shapeOptions.region = "ap-chengdu";
  o.shapeOptions.appId = "1253970026";
  o.compat.uin = "100000000002";
  o.environment = {{"USER_VAR", "x"}};
  auto handler = load(dir, o);
  auto out = handler->handle(kafkaEvent("hi"), ctx(2));
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  nlohmann::json got = nlohmann::json::parse((*out)[0].value);
  EXPECT_EQ(got["keys"], nlohmann::json({"memory_limit_in_mb", "time_limit_in_ms", "request_id", "environment",
                                         "environ", "function_version", "function_name", "namespace",
                                         "tencentcloud_region", "tencentcloud_appid", "tencentcloud_uin"}));
  EXPECT_EQ(got["types"], nlohmann::json({{"memory_limit_in_mb", "int"},
                                          {"time_limit_in_ms", "int"},
                                          {"request_id", "str"},
                                          {"environment", "str"},
                                          {"environ", "str"},
                                          {"function_version", "str"},
                                          {"function_name", "str"},
                                          {"namespace", "str"},
                                          {"tencentcloud_region", "str"},
                                          {"tencentcloud_appid", "str"},
                                          {"tencentcloud_uin", "str"}}));
  EXPECT_EQ(got["by_key"], "req-1");
  EXPECT_EQ(got["by_attr"], "req-1");
  EXPECT_EQ(got["get"], "fn");
  EXPECT_EQ(got["environment"]["SCF_FUNCTIONNAME"], "fn");
  EXPECT_EQ(got["environment"]["TENCENTCLOUD_REGION"], "ap-chengdu");
  EXPECT_EQ(got["environment"]["USER_VAR"], "x");
  EXPECT_NE(got["environ"].get<std::string>().find(";USER_VAR=x"), std::string::npos) << got["environ"];
  EXPECT_EQ(got["values"], nlohmann::json({256, 10000, "$LATEST", "ns", "ap-chengdu", "1253970026", "100000000002"}));
  EXPECT_EQ(got["extras"], nlohmann::json({"trig", 2, true}));
  EXPECT_TRUE(got["os_environ"]) << "SCF's own variables are in os.environ";
}

TEST(PythonHandlerTest, LambdaContextHasEveryDocumentedAttribute) {
  CodeDir dir("lambda-context");
  dir.file("index.py", R"PY(import json, re
def main_handler(event, context):
    names = ["function_name", "function_version", "invoked_function_arn", "memory_limit_in_mb",
             "aws_request_id", "log_group_name", "log_stream_name", "identity", "client_context"]
    return json.dumps({
        "types": {n: type(getattr(context, n)).__name__ for n in names},
        "arn": context.invoked_function_arn,
        "arn_shape": bool(re.fullmatch(r"arn:aws:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]+",
                                       context.invoked_function_arn)),
        "memory": context.memory_limit_in_mb, "request": context.aws_request_id,
        "group": context.log_group_name,
        "stream_shape": bool(re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context.log_stream_name)),
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "client_context": context.client_context,
        "remaining": type(context.get_remaining_time_in_millis()).__name__,
        "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 10000,
    })
)PY");
  HandlerOptions o = options(std::chrono::seconds(10), config::EventShape::kLambda);
  o.memoryLimitMb = 512;
  o.shapeOptions.region = "eu-west-1";
  o.shapeOptions.accountId = "123456789012";
  auto handler = load(dir, o);
  auto out = handler->handle(kafkaEvent("hi"), ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  nlohmann::json got = nlohmann::json::parse((*out)[0].value);
  EXPECT_EQ(got["types"], nlohmann::json({{"function_name", "str"},
                                          {"function_version", "str"},
                                          {"invoked_function_arn", "str"},
                                          {"memory_limit_in_mb", "str"},
                                          {"aws_request_id", "str"},
                                          {"log_group_name", "str"},
                                          {"log_stream_name", "str"},
                                          {"identity", "CognitoIdentity"},
                                          {"client_context", "NoneType"}}));
  EXPECT_EQ(got["arn"], "arn:aws:lambda:eu-west-1:123456789012:function:fn");
  EXPECT_TRUE(got["arn_shape"]);
  EXPECT_EQ(got["memory"], "512");
  EXPECT_EQ(got["request"], "req-1");
  EXPECT_EQ(got["group"], "/aws/lambda/fn");
  EXPECT_TRUE(got["stream_shape"]);
  EXPECT_EQ(got["identity"], nlohmann::json({nullptr, nullptr}));
  EXPECT_TRUE(got["client_context"].is_null());
  EXPECT_EQ(got["remaining"], "int");
  EXPECT_TRUE(got["remaining_ok"]);
}

TEST(PythonHandlerTest, CanonicalContextKeepsAnIntegerMemoryLimitAndLambdaNames) {
  CodeDir dir("canonical-context");
  dir.file(
      "index.py",
      "def main_handler(event, context):\n"
      "    return '%r %s %s' % (context.memory_limit_in_mb, context.invoked_function_arn, context.log_group_name)\n");
  HandlerOptions o = options();
  o.memoryLimitMb = 128;
  auto handler = load(dir, o);
  auto out = handler->handle(kafkaEvent("hi"), ctx());
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ((*out)[0].value, "128 arn:aws:lambda:us-east-1:000000000000:function:fn /aws/lambda/fn");
}

}  // namespace
}  // namespace sluice::runtime::python
