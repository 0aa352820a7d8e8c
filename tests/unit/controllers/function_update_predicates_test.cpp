// Which Function updates the controllers wired in controllers/setup.cpp react
// to: the warm pools only to a change of the pods' shape (spec, labels,
// annotations, deletion), never to a status write, which a scale-up makes
// several of while a warm pod is being adopted.
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sluice::controllers
