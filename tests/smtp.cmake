# The SMTP mailer against real SMTP servers (label smtp): the catcher the
# `servers` fixture started, and catchers of the tests' own
# (scripts/testenv_smtp.py run as a script, scripts/testenv start … smtp).
add_executable(smtp_mailer_test integration/smtp_mailer_test.cpp)
target_compile_definitions(smtp_mailer_test PRIVATE V2M_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(smtp_mailer_test PRIVATE v2m_test_support GTest::gtest_main v2m::mail)
gtest_discover_tests(smtp_mailer_test
  DISCOVERY_TIMEOUT 60
  PROPERTIES
    LABELS smtp
    FIXTURES_REQUIRED servers
    TIMEOUT 120
    ENVIRONMENT_MODIFICATION "V2M_TESTENV=set:${V2M_TESTENV_DIR}")
