# The container image (deploy/docker/Dockerfile, .dockerignore), checked
# offline (label image): there is no Docker engine on these machines, so each
# test proves what can be proven without one, against this machine's Debian 12
# packages and the binary just built. Not for the sanitizer build: its binary
# links libasan and libubsan, which the image does not have.
set(V2M_IMAGE_TESTS ${CMAKE_CURRENT_LIST_DIR}/image)
set(V2M_DOCKERFILE ${PROJECT_SOURCE_DIR}/deploy/docker/Dockerfile)

# The runtime stage installs the package of every library the binary and
# SOCI's run-time back-ends load, and ca-certificates.
add_test(NAME image.runtime_packages
         COMMAND bash ${V2M_IMAGE_TESTS}/check_runtime_packages.sh $<TARGET_FILE:video2mp3> ${V2M_DOCKERFILE}
                 ${PROJECT_SOURCE_DIR})
# The build stage installs the -dev package of every dependency CMakeLists.txt looks for.
add_test(NAME image.build_packages
         COMMAND bash ${V2M_IMAGE_TESTS}/check_build_packages.sh ${V2M_DOCKERFILE} ${PROJECT_SOURCE_DIR})
# Bases, non-root user, entrypoint and role, ports, data volume, healthcheck,
# no secrets, and the build context .dockerignore leaves.
add_test(NAME image.dockerfile
         COMMAND bash ${V2M_IMAGE_TESTS}/check_dockerfile.sh ${V2M_DOCKERFILE} ${PROJECT_SOURCE_DIR}
                 $<TARGET_FILE:video2mp3>)
set_tests_properties(image.runtime_packages image.build_packages image.dockerfile PROPERTIES LABELS image TIMEOUT 120)
# The HEALTHCHECK script on real processes, with only the image's commands.
add_test(NAME image.healthcheck
         COMMAND bash ${V2M_IMAGE_TESTS}/healthcheck_test.sh $<TARGET_FILE:video2mp3> ${V2M_DOCKERFILE}
                 ${PROJECT_SOURCE_DIR}/deploy/docker/healthcheck.sh)
set_tests_properties(image.healthcheck PROPERTIES LABELS image TIMEOUT 180)
# Each check above fails on a copy with one thing broken (29 copies).
add_test(NAME image.mutations
         COMMAND bash ${V2M_IMAGE_TESTS}/mutations_test.sh $<TARGET_FILE:video2mp3> ${PROJECT_SOURCE_DIR})
set_tests_properties(image.mutations PROPERTIES LABELS image TIMEOUT 900)
