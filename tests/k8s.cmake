# The Kubernetes manifests (deploy/k8s), offline (label k8s; tests/k8s/run.sh):
# every overlay rendered by the machine's `kubectl kustomize`, then every
# rendered object checked against the Kubernetes and KEDA schemas and against
# the binary (roles, probes, ports, V2M_* variables, autoscalers, network
# rules), with broken variants that each must fail. Node and the npm packages
# of tests/k8s/package-lock.json come from scripts/install-deps.sh.
set(V2M_K8S_RENDERED ${CMAKE_BINARY_DIR}/k8s-rendered)
add_test(NAME k8s.render
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/k8s/run.sh $<TARGET_FILE:video2mp3> render ${V2M_K8S_RENDERED})
set_tests_properties(k8s.render PROPERTIES LABELS k8s TIMEOUT 120 FIXTURES_SETUP k8s_rendered)
add_test(NAME k8s.schema
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/k8s/run.sh $<TARGET_FILE:video2mp3> schema ${V2M_K8S_RENDERED})
add_test(NAME k8s.schema_rejects
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/k8s/run.sh $<TARGET_FILE:video2mp3> schema-rejects)
add_test(NAME k8s.consistency
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/k8s/run.sh $<TARGET_FILE:video2mp3> consistency
                 ${V2M_K8S_RENDERED})
set_tests_properties(k8s.schema k8s.consistency PROPERTIES LABELS k8s TIMEOUT 300 FIXTURES_REQUIRED k8s_rendered)
set_tests_properties(k8s.schema_rejects PROPERTIES LABELS k8s TIMEOUT 300)
