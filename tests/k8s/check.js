"use strict";
// check.js BIN OVERLAY.yaml...: checks of the rendered manifests (one file per
// overlay, as tests/k8s/run.sh renders them) against what the binary BIN says
// about itself and against each other, the things a schema cannot see:
//  - every long-running role of `BIN --help` has its Deployment, and the
//    migrations their Job;
//  - every V2M_* variable a container gets is one `BIN env --json` lists, for
//    the role that container runs, and each role gets what it cannot do
//    without in a cluster; a *_FILE names a key of a mounted Secret;
//  - the listen address in the env is the container port, the Services' and
//    the probes' port, the probes' paths are /healthz and /readyz; and the
//    binary itself, started on those variables, answers on those paths;
//  - resources, securityContext and probes on every workload;
//  - every name referenced exists (ConfigMaps, Secrets, Services, ports,
//    autoscaling targets); no Deployment has two autoscalers; KEDA's trigger
//    watches the queue the converter reads, with the converter's broker URL;
//  - the Ingress routes to the gateway alone, with a body size above the
//    upload limit; only the gateway can be reached from outside the
//    namespace, every connection a role makes (its URLs) is allowed, and
//    nothing reaches RabbitMQ's management port.
// Prints one line per problem and exits 1 if there is any.
const childProcess = require("child_process");
const fs = require("fs");
const http = require("http");
const net = require("net");
const os = require("os");
const path = require("path");
const { readObjects, describe } = require("./lib.js");

// What each role cannot do without in a cluster: without it the role quietly
// falls back to its embedded default (SQLite inside the pod, the database as
// the queue, emails to files, the node's core count), which is wrong with
// one pod per role. A variable counts when set as itself or as its *_FILE.
const kNeeds = {
  gateway: ["V2M_DATABASE_URL", "V2M_BLOB_STORE", "V2M_BROKER_URL", "V2M_AUTH_URL", "V2M_LISTEN"],
  auth: ["V2M_DATABASE_URL", "V2M_JWT_PRIVATE_KEY_FILE", "V2M_LISTEN", "V2M_TRUSTED_PROXIES"],
  converter: ["V2M_DATABASE_URL", "V2M_BLOB_STORE", "V2M_BROKER_URL", "V2M_ADMIN_LISTEN", "V2M_CONCURRENCY"],
  notifier: [
    "V2M_DATABASE_URL", "V2M_BROKER_URL", "V2M_SMTP_URL", "V2M_ADMIN_LISTEN", "V2M_PUBLIC_URL", "V2M_CONCURRENCY",
  ],
  migrate: ["V2M_DATABASE_URL"],
};
// The variables that name another server: the connections a role makes.
const kUrlVariables = ["V2M_DATABASE_URL", "V2M_BLOB_STORE", "V2M_BROKER_URL", "V2M_SMTP_URL", "V2M_AUTH_URL"];
const kDefaultPorts = { "postgresql:": 5432, "amqp:": 5672, "smtp:": 25, "smtps:": 465, "http:": 80, "https:": 443 };
const kHealthPath = "/healthz";
const kReadyPath = "/readyz";
const kWorkloadKinds = ["Deployment", "StatefulSet", "DaemonSet", "Job"];
const kClusterScoped = ["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass"];

const problems = [];
function problem(where, message) {
  problems.push(`${where}: ${message}`);
}

// ---------------------------------------------------------------- the binary

function binaryFacts(bin) {
  const run = (args) => childProcess.execFileSync(bin, args, { encoding: "utf8", env: cleanEnv({}) });
  const variables = new Map();
  for (const v of JSON.parse(run(["env", "--json"]))) {
    variables.set(v.name, { defaultValue: v.default, roles: v.roles.split(",").map((r) => r.trim()) });
  }
  // "Subcommands:" lines are "  name   description"; the long-running roles
  // are those that "Run" a service, less `all` (every role in one process).
  const help = run(["--help"]);
  const section = help.split(/^Subcommands:$/m)[1] || "";
  const roles = [];
  for (const line of section.split("\n")) {
    const m = line.match(/^ {2}(\S+)\s+(.*)$/);
    if (m && /^Run\b/.test(m[2]) && m[1] !== "all") roles.push(m[1]);
  }
  if (roles.length === 0) throw new Error(`no roles found in \`${bin} --help\``);
  return { variables, roles };
}

function cleanEnv(extra) {
  const env = { PATH: process.env.PATH || "/usr/bin:/bin", HOME: process.env.HOME || os.tmpdir(), LANG: "C.UTF-8" };
  return Object.assign(env, extra);
}

/** The role reads the variable (per `video2mp3 env`). */
function reads(facts, name, role) {
  const v = facts.variables.get(name);
  if (!v) return false;
  return v.roles.includes(role) || (v.roles.includes("all roles") && facts.roles.includes(role));
}

// --------------------------------------------------------------- the objects

function labelsMatch(selector, labels) {
  if (!selector) return false;
  labels = labels || {};
  // A Service's selector is a plain map; the others are LabelSelectors.
  const isLabelSelector = "matchLabels" in selector || "matchExpressions" in selector;
  const matchLabels = isLabelSelector ? selector.matchLabels || {} : selector;
  for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
  for (const e of (isLabelSelector && selector.matchExpressions) || []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    if (e.operator === "In" && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === "NotIn" && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

function isEmptySelector(selector) {
  return !selector || Object.keys(selector.matchLabels || {}).length + (selector.matchExpressions || []).length === 0;
}

class Overlay {
  constructor(name, objects) {
    this.name = name;
    this.objects = objects;
    this.pods = []; // {where, workload, labels, spec, annotations}
    for (const o of objects) {
      if (!kWorkloadKinds.includes(o.kind)) continue;
      const template = (o.spec && o.spec.template) || {};
      this.pods.push({
        where: `${name}: ${describe(o)}`,
        workload: o,
        labels: (template.metadata && template.metadata.labels) || {},
        annotations: (template.metadata && template.metadata.annotations) || {},
        spec: template.spec || {},
      });
    }
  }
  all(kind) {
    return this.objects.filter((o) => o.kind === kind);
  }
  get(kind, name) {
    return this.objects.find((o) => o.kind === kind && o.metadata && o.metadata.name === name);
  }
  podsSelectedBy(selector) {
    return this.pods.filter((p) => labelsMatch(selector, p.labels));
  }
}

function decodedSecret(secret) {
  const out = {};
  for (const [k, v] of Object.entries(secret.data || {})) out[k] = Buffer.from(String(v), "base64").toString("utf8");
  for (const [k, v] of Object.entries(secret.stringData || {})) out[k] = String(v);
  return out;
}

/** The image's repository without registry and tag, and its tag. */
function parseImage(image) {
  const at = image.indexOf("@");
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  const hasTag = colon > slash;
  const repository = hasTag ? noDigest.slice(0, colon) : noDigest;
  return { name: repository.slice(slash + 1), tag: hasTag ? noDigest.slice(colon + 1) : at >= 0 ? "@digest" : "" };
}

/** The container's port number for a probe's or Service's port (a name or a number). */
function containerPortNumber(container, port) {
  if (typeof port === "number") return port;
  const named = (container.ports || []).find((p) => p.name === port);
  if (named) return named.containerPort;
  return /^\d+$/.test(String(port)) ? Number(port) : undefined;
}

/** The environment of a container: name → {value, source}. */
function resolveEnv(ov, pod, container, where) {
  const env = new Map();
  for (const from of container.envFrom || []) {
    const prefix = from.prefix || "";
    if (from.configMapRef) {
      const cm = ov.get("ConfigMap", from.configMapRef.name);
      if (!cm) {
        if (!from.configMapRef.optional) problem(where, `envFrom names ConfigMap ${from.configMapRef.name}, which does not exist`);
        continue;
      }
      for (const [k, v] of Object.entries(cm.data || {})) env.set(prefix + k, { value: String(v), source: `ConfigMap ${cm.metadata.name}` });
    }
    if (from.secretRef) {
      const secret = ov.get("Secret", from.secretRef.name);
      if (!secret) {
        if (!from.secretRef.optional) problem(where, `envFrom names Secret ${from.secretRef.name}, which does not exist`);
        continue;
      }
      for (const [k, v] of Object.entries(decodedSecret(secret))) env.set(prefix + k, { value: v, source: `Secret ${secret.metadata.name}` });
    }
  }
  for (const e of container.env || []) {
    if (e.valueFrom && e.valueFrom.configMapKeyRef) {
      const ref = e.valueFrom.configMapKeyRef;
      const cm = ov.get("ConfigMap", ref.name);
      if (!cm || !(cm.data && ref.key in cm.data)) {
        if (!ref.optional) problem(where, `${e.name} refers to ConfigMap ${ref.name} key ${ref.key}, which does not exist`);
        continue;
      }
      env.set(e.name, { value: String(cm.data[ref.key]), source: `ConfigMap ${ref.name}` });
    } else if (e.valueFrom && e.valueFrom.secretKeyRef) {
      const ref = e.valueFrom.secretKeyRef;
      const secret = ov.get("Secret", ref.name);
      const data = secret ? decodedSecret(secret) : {};
      if (!(ref.key in data)) {
        if (!ref.optional) problem(where, `${e.name} refers to Secret ${ref.name} key ${ref.key}, which does not exist`);
        continue;
      }
      env.set(e.name, { value: data[ref.key], source: `Secret ${ref.name}` });
    } else if (e.valueFrom) {
      env.set(e.name, { value: undefined, source: "valueFrom", valueFrom: e.valueFrom });
    } else {
      env.set(e.name, { value: e.value === undefined ? "" : String(e.value), source: "env" });
    }
  }
  return env;
}

/** The Secret key behind a file path inside the container, or a reason why there is none. */
function secretKeyForFile(ov, pod, container, file) {
  const mount = (container.volumeMounts || [])
    .filter((m) => file.startsWith(m.mountPath.replace(/\/$/, "") + "/"))
    .sort((a, b) => b.mountPath.length - a.mountPath.length)[0];
  if (!mount) return { error: `${file} is on no volume` };
  const volume = (pod.spec.volumes || []).find((v) => v.name === mount.name);
  if (!volume || !volume.secret) return { error: `${file} is on volume ${mount.name}, which is not a Secret` };
  let relative = file.slice(mount.mountPath.replace(/\/$/, "").length + 1);
  if (mount.subPath) return { error: `${file} is on a subPath mount (not updated, and not checked here)` };
  const secret = ov.get("Secret", volume.secret.secretName);
  if (!secret) return { error: `${file}: Secret ${volume.secret.secretName} does not exist` };
  let key = relative;
  if (volume.secret.items) {
    const item = volume.secret.items.find((i) => i.path === relative);
    if (!item) return { error: `${file}: volume ${mount.name} does not project a file ${relative}` };
    key = item.key;
  }
  const data = decodedSecret(secret);
  if (!(key in data)) return { error: `${file}: Secret ${secret.metadata.name} has no key ${key}` };
  return { secret: secret.metadata.name, key, value: data[key] };
}

// ------------------------------------------------------------ NetworkPolicy

function policiesFor(ov, labels) {
  return ov
    .all("NetworkPolicy")
    .filter((p) => labelsMatch(p.spec.podSelector || {}, labels) || isEmptySelector(p.spec.podSelector))
    .filter((p) => !p.spec.policyTypes || p.spec.policyTypes.includes("Ingress"));
}

function ruleAllowsPort(rule, serverContainers, port) {
  if (!rule.ports || rule.ports.length === 0) return true;
  return rule.ports.some((p) => {
    if (p.port === undefined) return true;
    return serverContainers.some((c) => containerPortNumber(c, p.port) === port);
  });
}

/** A peer that is not a pod of this namespace picked by labels. */
function isOutsidePeer(peer) {
  return Boolean(peer.ipBlock || peer.namespaceSelector);
}

function openToOutside(ov, pod) {
  const rules = [];
  for (const policy of policiesFor(ov, pod.labels)) {
    for (const rule of policy.spec.ingress || []) {
      if (!rule.from || rule.from.length === 0 || rule.from.some(isOutsidePeer)) rules.push(rule);
    }
  }
  return rules;
}

function allows(ov, clientLabels, serverPod, port) {
  const policies = policiesFor(ov, serverPod.labels);
  if (policies.length === 0) return true; // not isolated (reported elsewhere)
  const containers = serverPod.spec.containers || [];
  return policies.some((policy) =>
    (policy.spec.ingress || []).some((rule) => {
      const fromOk = !rule.from || rule.from.length === 0 ||
        rule.from.some((peer) => !isOutsidePeer(peer) && peer.podSelector && labelsMatch(peer.podSelector, clientLabels));
      return fromOk && ruleAllowsPort(rule, containers, port);
    }),
  );
}

// ------------------------------------------------------------------- checks

function checkOverlay(ov, facts, live) {
  const ns = ov.all("Namespace");
  if (ns.length !== 1) problem(ov.name, `${ns.length} Namespace objects, not 1`);
  const namespace = ns[0] && ns[0].metadata.name;
  for (const o of ov.objects) {
    if (kClusterScoped.includes(o.kind)) continue;
    if (!o.metadata || o.metadata.namespace !== namespace) {
      problem(`${ov.name}: ${describe(o)}`, `namespace ${o.metadata && o.metadata.namespace}, not ${namespace}`);
    }
  }

  // The roles: one Deployment each, and the migrations' Job.
  const rolePods = new Map(); // role → [{pod, container}]
  for (const pod of ov.pods) {
    for (const c of pod.spec.containers || []) {
      if (parseImage(c.image || "").name !== "video2mp3") continue;
      const role = (c.args || [])[0];
      if (!rolePods.has(role)) rolePods.set(role, []);
      rolePods.get(role).push({ pod, container: c });
      if (!(role in kNeeds)) problem(pod.where, `container ${c.name} runs \`video2mp3 ${role}\`, which is no role this deployment knows`);
      const kind = role === "migrate" ? "Job" : "Deployment";
      if (role in kNeeds && pod.workload.kind !== kind) problem(pod.where, `\`video2mp3 ${role}\` belongs in a ${kind}`);
    }
  }
  for (const role of facts.roles) {
    const n = (rolePods.get(role) || []).length;
    if (n !== 1) problem(ov.name, `role ${role} (video2mp3 --help) runs in ${n} Deployments, not 1`);
    if (!(role in kNeeds)) problem(ov.name, `role ${role} (video2mp3 --help) has no entry in tests/k8s/check.js kNeeds`);
  }
  if ((rolePods.get("migrate") || []).length !== 1) problem(ov.name, "no Job runs `video2mp3 migrate`");

  const flows = []; // connections the roles make: {where, clientLabels, host, port}
  for (const [role, list] of rolePods) {
    for (const { pod, container } of list) checkRoleContainer(ov, facts, role, pod, container, flows, live);
  }
  for (const pod of ov.pods) checkWorkload(ov, pod);
  checkServices(ov);
  checkAutoscaling(ov, facts, rolePods);
  checkIngress(ov, facts, rolePods);
  checkNetworkPolicies(ov, rolePods, flows);
}

function checkRoleContainer(ov, facts, role, pod, container, flows, live) {
  const where = `${pod.where} (${role})`;
  const env = resolveEnv(ov, pod, container, where);
  const values = new Map(); // V2M name → value, *_FILE resolved through its Secret
  for (const [name, e] of env) {
    if (!name.startsWith("V2M_")) continue;
    if (!facts.variables.has(name)) {
      problem(where, `${name} (${e.source}) is no variable video2mp3 reads (video2mp3 env)`);
      continue;
    }
    if (!reads(facts, name, role)) {
      problem(where, `${name} (${e.source}) is not read by ${role} (video2mp3 env: ${facts.variables.get(name).roles.join(", ")})`);
    }
    if (name.endsWith("_FILE")) {
      const r = secretKeyForFile(ov, pod, container, e.value || "");
      if (r.error) problem(where, `${name}: ${r.error}`);
      else values.set(name.slice(0, -"_FILE".length), r.value);
    } else if (e.value !== undefined) {
      values.set(name, e.value);
    }
  }
  for (const need of kNeeds[role] || []) {
    if (!env.has(need) && !env.has(`${need}_FILE`) && !env.has(need.replace(/_FILE$/, ""))) {
      problem(where, `${role} needs ${need} (or ${need}_FILE) in a cluster; it is not set`);
    }
  }

  // Connections this role makes, for the NetworkPolicy check.
  for (const name of kUrlVariables) {
    const value = values.get(name);
    if (!value || /^CHANGE-ME/.test(value)) continue;
    let url;
    try {
      url = new URL(value);
    } catch (e) {
      problem(where, `${name} is not a URL: ${value.replace(/\/\/[^@/]*@/, "//…@")}`);
      continue;
    }
    if (value !== value.trim()) problem(where, `${name} has white space around it`);
    const port = url.port ? Number(url.port) : kDefaultPorts[url.protocol];
    flows.push({ where, name, clientLabels: pod.labels, host: url.hostname, port });
  }

  // The converter: one conversion per core it may use.
  if (role === "converter") {
    const e = env.get("V2M_CONCURRENCY");
    const limit = ((container.resources || {}).limits || {}).cpu;
    const cores = limit === undefined ? undefined : Math.ceil(parseCpu(limit));
    if (e && e.valueFrom) {
      const ref = e.valueFrom.resourceFieldRef;
      if (!ref || ref.resource !== "limits.cpu" || (ref.containerName && ref.containerName !== container.name)) {
        problem(where, "V2M_CONCURRENCY comes from something other than this container's limits.cpu");
      }
      if (cores === undefined) problem(where, "V2M_CONCURRENCY follows limits.cpu, but there is no CPU limit");
    } else if (e && cores !== undefined && !(Number(e.value) >= 1 && Number(e.value) <= cores)) {
      problem(where, `V2M_CONCURRENCY ${e.value} is not between 1 and the CPU limit (${limit})`);
    }
  }

  if (role === "migrate") return;
  // The listen address: the one of V2M_LISTEN / V2M_ADMIN_LISTEN this role reads.
  const listenVar = ["V2M_LISTEN", "V2M_ADMIN_LISTEN"].find((v) => reads(facts, v, role));
  const listen = values.get(listenVar);
  const m = /^(.*):(\d+)$/.exec(listen || "");
  if (!m) {
    problem(where, `${listenVar} is ${JSON.stringify(listen)}, not host:port`);
    return;
  }
  const port = Number(m[2]);
  if (!["0.0.0.0", "[::]", "::", ""].includes(m[1])) {
    problem(where, `${listenVar}=${listen} listens on ${m[1]} only: unreachable from the kubelet and other pods`);
  }
  if (!(container.ports || []).some((p) => p.containerPort === port)) {
    problem(where, `${listenVar}=${listen}, but no containerPort is ${port}`);
  }
  for (const [probeName, wantPath] of [["readinessProbe", kReadyPath], ["livenessProbe", kHealthPath]]) {
    const probe = container[probeName];
    const get = probe && probe.httpGet;
    if (!get) {
      problem(where, `${probeName} is not an HTTP GET of ${wantPath}`);
      continue;
    }
    if (get.path !== wantPath) problem(where, `${probeName} asks for ${get.path}, not ${wantPath}`);
    const probePort = containerPortNumber(container, get.port);
    if (probePort !== port) problem(where, `${probeName} port ${get.port} (${probePort}) is not ${listenVar}'s ${port}`);
  }
  const scrapePort = pod.annotations["prometheus.io/port"];
  if (scrapePort !== undefined && Number(scrapePort) !== port) {
    problem(where, `prometheus.io/port ${scrapePort} is not ${listenVar}'s ${port}`);
  }
  live.push({ role, listenVar, where });
}

function parseCpu(q) {
  const s = String(q);
  return s.endsWith("m") ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

function checkWorkload(ov, pod) {
  const kind = pod.workload.kind;
  const spec = pod.spec;
  const podSc = spec.securityContext || {};
  if (spec.automountServiceAccountToken !== false) {
    problem(pod.where, "automountServiceAccountToken is not false (no pod here talks to the API server)");
  }
  for (const volume of spec.volumes || []) {
    if (volume.configMap && !ov.get("ConfigMap", volume.configMap.name) && !volume.configMap.optional) {
      problem(pod.where, `volume ${volume.name}: ConfigMap ${volume.configMap.name} does not exist`);
    }
    if (volume.secret && !ov.get("Secret", volume.secret.secretName) && !volume.secret.optional) {
      problem(pod.where, `volume ${volume.name}: Secret ${volume.secret.secretName} does not exist`);
    }
    if (volume.projected) problem(pod.where, `volume ${volume.name}: kustomize does not rename the Secrets of projected volumes`);
  }
  for (const c of spec.containers || []) {
    const where = `${pod.where} container ${c.name}`;
    resolveEnv(ov, pod, c, where); // reports missing ConfigMaps/Secrets
    const image = parseImage(c.image || "");
    if (!image.tag || image.tag === "latest") problem(where, `image ${c.image} has no fixed tag`);
    const res = c.resources || {};
    for (const kindOf of ["requests", "limits"]) {
      for (const r of ["cpu", "memory"]) if (!(res[kindOf] && res[kindOf][r])) problem(where, `no ${kindOf}.${r}`);
    }
    const sc = c.securityContext || {};
    if ((sc.runAsNonRoot === undefined ? podSc.runAsNonRoot : sc.runAsNonRoot) !== true) problem(where, "runAsNonRoot is not true");
    if (sc.allowPrivilegeEscalation !== false) problem(where, "allowPrivilegeEscalation is not false");
    if (!(sc.capabilities && (sc.capabilities.drop || []).includes("ALL"))) problem(where, "capabilities do not drop ALL");
    if (kind === "Deployment" || kind === "Job") {
      if (sc.readOnlyRootFilesystem !== true) problem(where, "readOnlyRootFilesystem is not true");
      const tmp = (c.volumeMounts || []).find((m) => m.mountPath === "/tmp");
      const tmpVolume = tmp && (spec.volumes || []).find((v) => v.name === tmp.name);
      if (!(tmpVolume && tmpVolume.emptyDir)) problem(where, "no emptyDir at /tmp (the root filesystem is read-only)");
    }
    if (kind !== "Job") {
      if (!c.readinessProbe) problem(where, "no readinessProbe");
      if (!c.livenessProbe) problem(where, "no livenessProbe");
    }
  }
}

function checkServices(ov) {
  for (const svc of ov.all("Service")) {
    const where = `${ov.name}: ${describe(svc)}`;
    const pods = ov.podsSelectedBy(svc.spec.selector || {});
    if (pods.length === 0) {
      problem(where, "its selector matches no pod");
      continue;
    }
    for (const p of svc.spec.ports || []) {
      const target = p.targetPort === undefined ? p.port : p.targetPort;
      for (const pod of pods) {
        if (!(pod.spec.containers || []).some((c) => (c.ports || []).some((cp) => cp.containerPort === containerPortNumber(c, target)))) {
          problem(where, `port ${p.name || p.port}: ${pod.where} has no container port ${target}`);
        }
      }
    }
  }
  for (const pdb of ov.all("PodDisruptionBudget")) {
    if (ov.podsSelectedBy(pdb.spec.selector).length === 0) problem(`${ov.name}: ${describe(pdb)}`, "its selector matches no pod");
  }
}

function checkAutoscaling(ov, facts, rolePods) {
  const targets = new Map(); // Deployment name → [autoscaler]
  const target = (who, ref) => {
    const kind = ref.kind || "Deployment";
    if (!ov.get(kind, ref.name)) problem(`${ov.name}: ${describe(who)}`, `scales ${kind} ${ref.name}, which does not exist`);
    const key = `${kind}/${ref.name}`;
    if (!targets.has(key)) targets.set(key, []);
    targets.get(key).push(describe(who));
  };
  for (const hpa of ov.all("HorizontalPodAutoscaler")) target(hpa, hpa.spec.scaleTargetRef || {});
  for (const so of ov.all("ScaledObject")) {
    target(so, so.spec.scaleTargetRef || {});
    checkScaledObject(ov, facts, so, rolePods);
  }
  for (const [key, who] of targets) {
    if (who.length > 1) problem(ov.name, `${key} is scaled by ${who.join(" and ")}: one autoscaler per Deployment`);
    const [kind, name] = key.split("/");
    const obj = ov.get(kind, name);
    if (obj && obj.spec && obj.spec.replicas !== undefined) {
      problem(`${ov.name}: ${key}`, `has replicas: ${obj.spec.replicas} and an autoscaler: each apply would reset the autoscaler's count`);
    }
  }
  const converter = (rolePods.get("converter") || [])[0];
  if (converter && !targets.has(`Deployment/${converter.pod.workload.metadata.name}`)) {
    problem(ov.name, "the converter has no autoscaler (a ScaledObject or a HorizontalPodAutoscaler)");
  }
}

function checkScaledObject(ov, facts, so, rolePods) {
  const where = `${ov.name}: ${describe(so)}`;
  const targetName = so.spec.scaleTargetRef && so.spec.scaleTargetRef.name;
  const scaled = (rolePods.get("converter") || []).find((x) => x.pod.workload.metadata.name === targetName);
  for (const trigger of so.spec.triggers || []) {
    if (trigger.type !== "rabbitmq") continue;
    const md = trigger.metadata || {};
    if (scaled) {
      const env = resolveEnv(ov, scaled.pod, scaled.container, where);
      const queue = env.has("V2M_QUEUE_VIDEO") ? env.get("V2M_QUEUE_VIDEO").value : facts.variables.get("V2M_QUEUE_VIDEO").defaultValue;
      if (md.queueName !== queue) problem(where, `watches queue ${md.queueName}; the converter reads ${queue} (V2M_QUEUE_VIDEO)`);
    }
    if (md.mode !== "QueueLength") problem(where, `mode ${md.mode}: the converter scales on the queue's depth (QueueLength)`);
    if (!(Number(md.value) > 0)) problem(where, `value ${md.value} is not a positive number`);
    const authName = trigger.authenticationRef && trigger.authenticationRef.name;
    const auth = authName && ov.get(trigger.authenticationRef.kind || "TriggerAuthentication", authName);
    if (!auth) {
      problem(where, `authenticationRef ${authName} does not exist`);
      continue;
    }
    for (const ref of auth.spec.secretTargetRef || []) {
      const secret = ov.get("Secret", ref.name);
      const data = secret ? decodedSecret(secret) : {};
      if (!(ref.key in data)) {
        problem(`${ov.name}: ${describe(auth)}`, `Secret ${ref.name} key ${ref.key} does not exist`);
        continue;
      }
      if (ref.parameter === "host" && scaled) {
        // KEDA connects with the converter's own broker URL, taken as it is.
        const env = resolveEnv(ov, scaled.pod, scaled.container, where);
        const file = env.get("V2M_BROKER_URL_FILE");
        const broker = file ? secretKeyForFile(ov, scaled.pod, scaled.container, file.value) : {};
        if (broker.secret !== ref.name || broker.key !== ref.key) {
          problem(`${ov.name}: ${describe(auth)}`, `host is Secret ${ref.name}/${ref.key}, not the converter's V2M_BROKER_URL_FILE`);
        }
        if (data[ref.key] !== data[ref.key].trim()) problem(`${ov.name}: ${describe(auth)}`, "the host has white space around it");
      }
    }
  }
}

function nginxSize(text) {
  const m = /^(\d+)([kKmMgG]?)$/.exec(String(text || ""));
  if (!m) return undefined;
  return Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()]);
}

function checkIngress(ov, facts, rolePods) {
  const ingresses = ov.all("Ingress");
  if (ingresses.length === 0) problem(ov.name, "no Ingress");
  const gateway = (rolePods.get("gateway") || [])[0];
  for (const ing of ingresses) {
    const where = `${ov.name}: ${describe(ing)}`;
    const backends = [];
    if (ing.spec.defaultBackend) backends.push(ing.spec.defaultBackend);
    for (const rule of ing.spec.rules || []) for (const p of (rule.http || {}).paths || []) backends.push(p.backend);
    for (const b of backends) {
      if (!b.service) {
        problem(where, "a backend that is not a Service");
        continue;
      }
      const svc = ov.get("Service", b.service.name);
      if (!svc) {
        problem(where, `backend Service ${b.service.name} does not exist`);
        continue;
      }
      const port = (svc.spec.ports || []).find((p) => (b.service.port.name ? p.name === b.service.port.name : p.port === b.service.port.number));
      if (!port) problem(where, `Service ${svc.metadata.name} has no port ${JSON.stringify(b.service.port)}`);
      if (port && (port.name === "management" || port.port === 15672)) problem(where, "routes to RabbitMQ's management port");
      const pods = ov.podsSelectedBy(svc.spec.selector || {});
      if (!gateway || pods.length === 0 || pods.some((p) => p !== gateway.pod)) {
        problem(where, `backend Service ${svc.metadata.name} reaches ${pods.map((p) => describe(p.workload)).join(", ") || "nothing"}, not the gateway alone`);
      }
    }
    const a = ing.metadata.annotations || {};
    if (ing.spec.ingressClassName !== "nginx") problem(where, "its annotations are ingress-nginx's, but ingressClassName is not nginx");
    if (gateway) {
      const env = resolveEnv(ov, gateway.pod, gateway.container, where);
      const limit = Number(env.has("V2M_MAX_UPLOAD_BYTES") ? env.get("V2M_MAX_UPLOAD_BYTES").value : facts.variables.get("V2M_MAX_UPLOAD_BYTES").defaultValue);
      const body = nginxSize(a["nginx.ingress.kubernetes.io/proxy-body-size"]);
      if (body === undefined) problem(where, "no valid nginx.ingress.kubernetes.io/proxy-body-size (nginx's default is 1m)");
      else if (body !== 0 && body <= limit) problem(where, `proxy-body-size (${body} bytes) is not above V2M_MAX_UPLOAD_BYTES (${limit})`);
    }
    if (a["nginx.ingress.kubernetes.io/proxy-request-buffering"] !== "off") problem(where, "proxy-request-buffering is not off (the controller would spool each upload first)");
    for (const t of ["proxy-read-timeout", "proxy-send-timeout"]) {
      if (!(Number(a[`nginx.ingress.kubernetes.io/${t}`]) >= 300)) problem(where, `${t} is under 300 s`);
    }
  }
}

function checkNetworkPolicies(ov, rolePods, flows) {
  const gateway = (rolePods.get("gateway") || [])[0];
  for (const pod of ov.pods) {
    if (pod.workload.kind === "Job") continue;
    if (policiesFor(ov, pod.labels).length === 0) {
      problem(pod.where, "no NetworkPolicy selects it: anything can reach it");
      continue;
    }
    const open = openToOutside(ov, pod);
    const isGateway = gateway && pod === gateway.pod;
    if (open.length > 0 && !isGateway) problem(pod.where, "a NetworkPolicy lets it be reached from outside the namespace; only the gateway may be");
    if (isGateway && open.length === 0) problem(pod.where, "no NetworkPolicy lets the ingress controller reach the gateway");
    // RabbitMQ's management UI: port-forward only.
    for (const c of pod.spec.containers || []) {
      for (const p of c.ports || []) {
        if (p.name !== "management" && p.containerPort !== 15672) continue;
        const allowed = policiesFor(ov, pod.labels).some((pol) => (pol.spec.ingress || []).some((r) => ruleAllowsPort(r, [c], p.containerPort)));
        if (allowed) problem(pod.where, `a NetworkPolicy lets traffic in to the management port ${p.containerPort}`);
      }
    }
  }
  // Every connection a role makes to a Service of the namespace is allowed.
  for (const f of flows) {
    const host = f.host.split(".")[0];
    const svc = ov.get("Service", host);
    if (!svc) continue; // an external server
    const sp = (svc.spec.ports || []).find((p) => p.port === f.port);
    if (!sp) {
      problem(f.where, `${f.name} names ${f.host}:${f.port}, but Service ${host} has no port ${f.port}`);
      continue;
    }
    for (const server of ov.podsSelectedBy(svc.spec.selector || {})) {
      const target = sp.targetPort === undefined ? sp.port : sp.targetPort;
      const c = (server.spec.containers || []).find((x) => containerPortNumber(x, target) !== undefined);
      const port = c && containerPortNumber(c, target);
      if (!allows(ov, f.clientLabels, server, port)) {
        problem(f.where, `${f.name} connects to ${f.host}:${f.port}, but no NetworkPolicy lets it in to ${describe(server.workload)} port ${port}`);
      }
    }
  }
}

// ------------------------------------------------- the binary on its probes

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

function get(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: urlPath, timeout: 2000, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(0));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts each role as the manifests configure its listener, on a free loopback
 *  port and the embedded defaults, and asks for the probes' paths. */
async function checkLive(bin, live) {
  const roles = new Map();
  for (const l of live) roles.set(l.role, l);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "v2m-k8s-"));
  const children = [];
  try {
    await Promise.all([...roles.values()].map(async ({ role, listenVar }) => {
      const dir = path.join(tmp, role);
      fs.mkdirSync(dir);
      const port = await freePort();
      const env = cleanEnv({ V2M_DATA_DIR: dir, [listenVar]: `127.0.0.1:${port}`, V2M_LOG_FORMAT: "text" });
      if (role === "gateway") env.V2M_AUTH_URL = `http://127.0.0.1:${await freePort()}`;
      if (role === "auth") {
        env.V2M_JWT_PRIVATE_KEY_FILE = path.join(dir, "jwt.pem");
        childProcess.execFileSync(bin, ["keygen", env.V2M_JWT_PRIVATE_KEY_FILE], { env: cleanEnv({}) });
      }
      const log = fs.openSync(path.join(dir, "log"), "w");
      const child = childProcess.spawn(bin, [role], { cwd: dir, env, stdio: ["ignore", log, log] });
      let exited = null;
      const gone = new Promise((resolve) => {
        child.on("exit", (code, signal) => resolve((exited = code === null ? signal : code)));
        child.on("error", (e) => resolve((exited = e.message)));
      });
      children.push({ child, gone });
      const deadline = Date.now() + 20000;
      let health = 0;
      while (Date.now() < deadline && exited === null) {
        health = await get(port, kHealthPath);
        if (health !== 0) break;
        await sleep(100);
      }
      const ready = health === 0 ? 0 : await get(port, kReadyPath);
      const tail = () => fs.readFileSync(path.join(dir, "log"), "utf8").trim().split("\n").slice(-3).join(" | ");
      if (exited !== null) problem(`video2mp3 ${role}`, `exited (${exited}) before answering: ${tail()}`);
      else if (health !== 200) problem(`video2mp3 ${role}`, `GET ${kHealthPath} on ${listenVar} answered ${health || "nothing"}, not 200: ${tail()}`);
      else if (ready !== 200 && ready !== 503) problem(`video2mp3 ${role}`, `GET ${kReadyPath} on ${listenVar} answered ${ready || "nothing"}, not 200 or 503`);
      else console.log(`ok   video2mp3 ${role}: ${kHealthPath} ${health}, ${kReadyPath} ${ready} on ${listenVar}`);
    }));
  } finally {
    // SIGTERM, then SIGKILL whatever still runs after 10 s; the files go
    // once every process is gone.
    const stop = async ({ child, gone }) => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
      await gone;
      clearTimeout(timer);
    };
    await Promise.all(children.map(stop));
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  }
}

async function main(argv) {
  const [given, ...files] = argv;
  // The roles run in directories of their own: a relative path must not be.
  const bin = given && given.includes("/") ? path.resolve(given) : given;
  if (!bin || files.length === 0) {
    console.error("usage: check.js VIDEO2MP3_BINARY OVERLAY.yaml...");
    return 2;
  }
  const facts = binaryFacts(bin);
  const live = [];
  for (const file of files) {
    const ov = new Overlay(path.basename(file).replace(/\.ya?ml$/, ""), readObjects(file));
    const before = problems.length;
    checkOverlay(ov, facts, live);
    console.log(`${problems.length === before ? "ok  " : "FAIL"} ${ov.name}: ${ov.objects.length} objects, ${problems.length - before} problem(s)`);
  }
  await checkLive(bin, live);
  for (const p of problems) console.error(p);
  console.log(`check: roles ${facts.roles.join(", ")}; ${files.length} overlay(s); ${problems.length} problem(s)`);
  return problems.length === 0 ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e) => {
      console.error(e.stack || String(e));
      process.exitCode = 1;
    },
  );
}
/** The problems of one overlay's objects (without starting the binary). */
function checkObjects(name, objects, facts) {
  const start = problems.length;
  checkOverlay(new Overlay(name, objects), facts, []);
  return problems.splice(start);
}

module.exports = { binaryFacts, checkObjects };
