// Which Function updates the controllers wired in controllers/setup.cpp react
// to: the warm pools only to a change of the pods' shape (spec, labels,
// annotations, deletion), never to a status write, which a scale-up makes
// several of while a warm pod is being adopted; the autoscaler to a spec change
// or a deletion, but not to a new pinned replica count alone.
#include <gtest/gtest.h>

#include "controllers/autoscaler/autoscaler_loop.h"
#include "controllers/setup.h"

namespace sluice::controllers {
namespace {

using kube::Json;

Json function() {
  return {{"metadata", {{"name", "f"}, {"namespace", "ns"}, {"generation", 1}, {"resourceVersion", "10"}}},
          {"spec", {{"replicas", 0}}}};
}

TEST(FunctionUpdatePredicates, AStatusWriteChangesNoWarmPodShapeButNeedsTheFunctionReconcile) {
  Json before = function();
  Json after = before;
  after["metadata"]["resourceVersion"] = "11";
  after["status"] = {{"readyReplicas", 1}, {"desiredReplicas", 1}};
  EXPECT_FALSE(functionShapeChanged(before, after));
  EXPECT_TRUE(functionNeedsReconcile(before, after));
}

TEST(FunctionUpdatePredicates, TheAutoscalersMeasurementsAloneNeedNoFunctionReconcile) {
  Json before = function();
  before["status"] = {{"readyReplicas", 1},
                      {"desiredReplicas", 1},
                      {"lastActiveTime", "2026-12-05T06:00:00Z"},
                      {"metrics", Json::array({{{"trigger", "t"}, {"value", "6"}}})}};
  Json measured = before;
  measured["status"]["lastActiveTime"] = "2026-12-05T06:00:15Z";
  measured["status"]["metrics"][0]["value"] = "7";
  EXPECT_FALSE(functionNeedsReconcile(before, measured));
  Json desired = measured;
  desired["status"]["desiredReplicas"] = 2;
  EXPECT_TRUE(functionNeedsReconcile(before, desired));
  Json deleting = before;
  deleting["metadata"]["deletionTimestamp"] = "2026-12-05T06:00:20Z";
  EXPECT_TRUE(functionNeedsReconcile(before, deleting));
}

TEST(FunctionUpdatePredicates, SpecLabelsAnnotationsAndDeletionChangeTheShape) {
  const Json before = function();
  Json spec = before;
  spec["metadata"]["generation"] = 2;
  spec["spec"]["replicas"] = 1;
  EXPECT_TRUE(functionShapeChanged(before, spec));
  Json labelled = before;
  labelled["metadata"]["labels"] = {{"team", "a"}};
  EXPECT_TRUE(functionShapeChanged(before, labelled));
  Json annotated = before;
  annotated["metadata"]["annotations"] = {{"note", "x"}};
  EXPECT_TRUE(functionShapeChanged(before, annotated));
  Json deleting = before;
  deleting["metadata"]["deletionTimestamp"] = "2026-12-05T06:00:00Z";
  EXPECT_TRUE(functionShapeChanged(before, deleting));
  EXPECT_FALSE(functionShapeChanged(before, before));
}

TEST(FunctionUpdatePredicates, TheAutoscalerSkipsANewPinnedCountButNotUnpinningOrOtherSpecChanges) {
  const Json pinned0 = function();
  Json pinned1 = pinned0;
  pinned1["metadata"]["generation"] = 2;
  pinned1["spec"]["replicas"] = 1;
  EXPECT_FALSE(autoscalerNeedsRound(pinned0, pinned1));

  Json unpinned = pinned0;
  unpinned["metadata"]["generation"] = 2;
  unpinned["spec"].erase("replicas");
  EXPECT_TRUE(autoscalerNeedsRound(pinned0, unpinned));
  EXPECT_TRUE(autoscalerNeedsRound(unpinned, pinned0));

  Json rescaled = pinned1;
  rescaled["spec"]["scaling"] = {{"maxReplicas", 4}};
  EXPECT_TRUE(autoscalerNeedsRound(pinned0, rescaled));

  Json status = pinned0;
  status["status"] = {{"desiredReplicas", 1}};
  EXPECT_FALSE(autoscalerNeedsRound(pinned0, status));
  Json deleting = pinned0;
  deleting["metadata"]["deletionTimestamp"] = "2026-12-05T06:00:00Z";
  EXPECT_TRUE(autoscalerNeedsRound(pinned0, deleting));
}

}  // namespace
}  // namespace sluice::controllers
