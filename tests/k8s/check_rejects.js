"use strict";
// check_rejects.js BIN DIR: proof that check.js can fail. Each case below
// breaks one thing in the rendered overlays of DIR (as run.sh renders them)
// and must make check.js report it; the untouched overlays must pass.
const path = require("path");
const { readObjects } = require("./lib.js");
const { binaryFacts, checkObjects } = require("./check.js");

const find = (objs, kind, prefix) =>
  objs.find((o) => o.kind === kind && (o.metadata.name === prefix || o.metadata.name.startsWith(`${prefix}-`)));
const container = (objs, name) => find(objs, "Deployment", name).spec.template.spec.containers[0];
const env = (objs, name) => container(objs, name).env;

// [overlay, what is broken, how, text the report must contain]
const kCases = [
  ["minikube", "the gateway listens on another port than its containerPort",
    (o) => (find(o, "ConfigMap", "gateway-config").data.V2M_LISTEN = "0.0.0.0:8000"), "no containerPort is 8000"],
  ["minikube", "a role listens on loopback only",
    (o) => (find(o, "ConfigMap", "auth-config").data.V2M_LISTEN = "127.0.0.1:8081"), "listens on 127.0.0.1 only"],
  ["minikube", "a readiness probe asks for another path",
    (o) => (container(o, "notifier").readinessProbe.httpGet.path = "/ready"), "asks for /ready, not /readyz"],
  ["minikube", "a liveness probe on another port",
    (o) => (container(o, "converter").livenessProbe.httpGet.port = 9092), "livenessProbe port 9092"],
  ["minikube", "a variable the binary does not have",
    (o) => env(o, "gateway").push({ name: "V2M_UPLOAD_LIMIT", value: "1" }), "V2M_UPLOAD_LIMIT (env) is no variable video2mp3 reads"],
  ["minikube", "a variable given to a role that does not read it",
    (o) => env(o, "gateway").push({ name: "V2M_PUBLIC_URL", value: "http://x" }), "V2M_PUBLIC_URL (env) is not read by gateway"],
  ["minikube", "a role without its broker",
    (o) => (container(o, "notifier").env = env(o, "notifier").filter((e) => e.name !== "V2M_BROKER_URL_FILE")),
    "notifier needs V2M_BROKER_URL"],
  ["minikube", "a secret file outside the mounted Secret",
    (o) => (env(o, "auth").find((e) => e.name === "V2M_DATABASE_URL_FILE").value = "/etc/database-url"),
    "V2M_DATABASE_URL_FILE: /etc/database-url is on no volume"],
  ["minikube", "a secret file the Secret volume does not project",
    (o) => (env(o, "auth").find((e) => e.name === "V2M_DATABASE_URL_FILE").value = "/run/secrets/video2mp3/broker-url"),
    "does not project a file broker-url"],
  ["minikube", "a role is not deployed",
    (o) => o.splice(o.indexOf(find(o, "Deployment", "converter")), 1), "role converter (video2mp3 --help) runs in 0 Deployments"],
  ["minikube", "a writable root filesystem",
    (o) => delete container(o, "notifier").securityContext.readOnlyRootFilesystem, "readOnlyRootFilesystem is not true"],
  ["minikube", "privilege escalation allowed",
    (o) => (container(o, "maildev").securityContext.allowPrivilegeEscalation = true), "allowPrivilegeEscalation is not false"],
  ["minikube", "no resource limits",
    (o) => delete container(o, "auth").resources.limits, "no limits.cpu"],
  ["minikube", "no liveness probe",
    (o) => delete find(o, "StatefulSet", "rabbitmq").spec.template.spec.containers[0].livenessProbe, "no livenessProbe"],
  ["minikube", "a Service port to a container port that does not exist",
    (o) => (find(o, "Service", "auth").spec.ports[0].targetPort = "admin"), "has no container port admin"],
  ["minikube", "an object outside the namespace",
    (o) => delete find(o, "Service", "auth").metadata.namespace, "namespace undefined, not video2mp3"],
  ["minikube", "a Deployment with two autoscalers",
    (o) => o.push({ apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "converter", namespace: "video2mp3" },
      spec: { scaleTargetRef: { name: "converter" }, triggers: [] } }), "one autoscaler per Deployment"],
  ["minikube", "replicas on an autoscaled Deployment",
    (o) => (find(o, "Deployment", "converter").spec.replicas = 2), "each apply would reset the autoscaler's count"],
  ["minikube", "the Ingress routes to RabbitMQ's management UI",
    (o) => (find(o, "Ingress", "gateway").spec.rules[0].http.paths[0].backend.service = { name: "rabbitmq", port: { name: "management" } }),
    "routes to RabbitMQ's management port"],
  ["minikube", "an upload limit above the Ingress's body size",
    (o) => (find(o, "Ingress", "gateway").metadata.annotations["nginx.ingress.kubernetes.io/proxy-body-size"] = "1g"),
    "is not above V2M_MAX_UPLOAD_BYTES"],
  ["minikube", "uploads buffered by the ingress controller",
    (o) => delete find(o, "Ingress", "gateway").metadata.annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"],
    "proxy-request-buffering is not off"],
  ["minikube", "auth reachable from outside",
    (o) => delete find(o, "NetworkPolicy", "auth").spec.ingress[0].from, "only the gateway may be"],
  ["minikube", "a NetworkPolicy that lets in RabbitMQ's management port",
    (o) => delete find(o, "NetworkPolicy", "rabbitmq").spec.ingress[0].ports, "lets traffic in to the management port 15672"],
  ["minikube", "a pod that no NetworkPolicy isolates",
    (o) => o.splice(o.indexOf(find(o, "NetworkPolicy", "default-deny-ingress")), 1), "no NetworkPolicy selects it"],
  ["minikube", "a connection the NetworkPolicies block",
    (o) => (find(o, "NetworkPolicy", "postgres").spec.ingress[0].from[0].podSelector.matchExpressions[1].values = ["gateway", "auth"]),
    "V2M_DATABASE_URL connects to postgres:5432, but no NetworkPolicy lets it in to StatefulSet/postgres"],
  ["minikube", "the converter runs more conversions than it has cores",
    (o) => (env(o, "converter").find((e) => e.name === "V2M_CONCURRENCY").valueFrom.resourceFieldRef.resource = "requests.memory"),
    "V2M_CONCURRENCY comes from something other than this container's limits.cpu"],
  ["minikube", "an image without a tag",
    (o) => (find(o, "StatefulSet", "postgres").spec.template.spec.containers[0].image = "postgres"), "image postgres has no fixed tag"],
  ["production", "KEDA watches another queue",
    (o) => (find(o, "ScaledObject", "converter").spec.triggers[0].metadata.queueName = "videos"),
    "watches queue videos; the converter reads video"],
  ["production", "KEDA's trigger with another Secret than the converter's broker URL",
    (o) => (find(o, "TriggerAuthentication", "rabbitmq-host").spec.secretTargetRef[0].key = "database-url"),
    "not the converter's V2M_BROKER_URL_FILE"],
  ["production", "a ScaledObject on a Deployment that does not exist",
    (o) => (find(o, "ScaledObject", "converter").spec.scaleTargetRef.name = "convertor"), "scales Deployment convertor, which does not exist"],
  ["production-hpa", "the converter without an autoscaler",
    (o) => o.splice(o.indexOf(find(o, "HorizontalPodAutoscaler", "converter")), 1), "the converter has no autoscaler"],
];

function main(argv) {
  const [bin, dir] = argv;
  if (!bin || !dir) {
    console.error("usage: check_rejects.js VIDEO2MP3_BINARY RENDERED_DIR");
    return 2;
  }
  const facts = binaryFacts(bin);
  const load = (overlay) => readObjects(path.join(dir, `${overlay}.yaml`));
  let failed = 0;
  for (const overlay of new Set(kCases.map((c) => c[0]))) {
    const clean = checkObjects(overlay, load(overlay), facts);
    if (clean.length > 0) {
      console.error(`FAIL ${overlay} as rendered already has problems:\n  ${clean.join("\n  ")}`);
      failed++;
    }
  }
  for (const [overlay, what, mutate, expect] of kCases) {
    const objects = load(overlay);
    mutate(objects);
    const found = checkObjects(overlay, objects, facts);
    if (found.some((p) => p.includes(expect))) {
      console.log(`ok   ${overlay}, ${what}: ${found.find((p) => p.includes(expect))}`);
    } else {
      console.error(`FAIL ${overlay}, ${what}: expected "${expect}", got: ${found.join(" | ") || "no problem"}`);
      failed++;
    }
  }
  console.log(`${kCases.length - failed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
