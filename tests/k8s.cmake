# The Kubernetes manifests (deploy/k8s), offline (label k8s; tests/k8s/run.sh):
# every overlay rendered by the machine's `kubectl kustomize`. The schema and
# consistency checks (`make k8s-validate`: Node and the npm packages of
# tests/k8s/package-lock.json) are not part of `make test` yet.
set(V2M_K8S_RENDERED ${CMAKE_BINARY_DIR}/k8s-rendered)
add_test(NAME k8s.render
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/k8s/run.sh $<TARGET_FILE:video2mp3> render ${V2M_K8S_RENDERED})
set_tests_properties(k8s.render PROPERTIES LABELS k8s TIMEOUT 120)
