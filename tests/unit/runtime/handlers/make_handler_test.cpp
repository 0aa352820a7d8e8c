#include "runtime/handlers/make_handler.h"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/config/config_parser.h"

namespace sluice::runtime {
namespace {

TEST(MakeHandlerTest, BuiltinConfigGivesAPipeline) {
  auto config = config::parseFunctionConfig(
      "name: m\nruntime: builtin\noutputs: [{name: o, dir: {path: /tmp}}]\npipeline:\n  - mirror:\n");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  auto handler = makeHandler(*config);
  ASSERT_TRUE(handler.isOk()) << handler.status().toString();
  Event e;
  e.key = "k";
  e.partition = 4;
  e.data = std::string("\x01\x02", 2);
  auto out = (*handler)->handle(e, {});
  ASSERT_TRUE(out.isOk());
  EXPECT_EQ((*out)[0].value, e.data);
  EXPECT_EQ((*out)[0].partition, 4);
  EXPECT_TRUE(handlersHealthy());
}

TEST(MakeHandlerTest, PythonConfigLoadsTheHandlerWithItsShape) {
  auto dir = std::filesystem::path(::testing::TempDir()) / ("sluice-make-handler-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "index.py") << "def main_handler(event, context):\n"
                                     "    return event['Records'][0]['Ckafka']['msgBody'] + context.function_name\n";
  auto config = config::parseFunctionConfig("name: scf-fn\ncodeDir: " + dir.string() +
                                            "\neventShape: scf\ntimeoutSeconds: 3\n"
                                            "triggers: [{name: t, kafka: {bootstrapServers: '127.0.0.1:9092', "
                                            "topics: [a], consumerGroup: g}}]\n");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  auto handler = makeHandler(*config);
  ASSERT_TRUE(handler.isOk()) << handler.status().toString();
  Event e;
  e.source = "kafka";
  e.subject = "a";
  e.data = "hi ";
  auto out = (*handler)->handle(e, {});
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ((*out)[0].value, "hi scf-fn");

  config->handler = "index.absent";
  EXPECT_EQ(makeHandler(*config).status().message(), "module \"index\" has no function \"absent\"");
  std::filesystem::remove_all(dir);
}

TEST(MakeHandlerTest, CodeCarriedInTheConfigurationIsWrittenAndLoaded) {
  // How a warm pod gets inline code: no code volume, the module arrives with /specialize.
  auto config = config::parseFunctionConfig(
      R"({"name":"inline-fn","handler":"carried.main_handler",)"
      R"("codeFiles":{"carried.py":"def main_handler(event, context):\n    return 'got ' + event['data']\n"}})");
  ASSERT_TRUE(config.isOk()) << config.status().toString();
  EXPECT_TRUE(config->codeDir.empty());
  auto handler = makeHandler(*config);
  ASSERT_TRUE(handler.isOk()) << handler.status().toString();
  Event e;
  e.data = "x";
  auto out = (*handler)->handle(e, {});
  ASSERT_TRUE(out.isOk()) << out.status().toString();
  EXPECT_EQ((*out)[0].value, "got x");
}

}  // namespace
}  // namespace sluice::runtime
