# The gateway's side of auth against a real `video2mp3 auth` process (SQLite):
# sign-in forwarded to it, tokens checked with its JWKS, its throttle seeing
# the client behind the gateway, auth down and restarted with a new key
# (label auth).
add_executable(remote_auth_test ${CMAKE_CURRENT_SOURCE_DIR}/integration/remote_auth_test.cpp)
target_link_libraries(remote_auth_test PRIVATE v2m_test_support GTest::gtest_main v2m::gateway v2m::http
                      v2m::token v2m::obs)
add_dependencies(remote_auth_test video2mp3)
gtest_discover_tests(remote_auth_test
  DISCOVERY_TIMEOUT 60
  PROPERTIES
    LABELS auth
    TIMEOUT 180
    ENVIRONMENT "V2M_BIN=$<TARGET_FILE:video2mp3>")
