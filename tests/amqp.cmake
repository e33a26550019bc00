# The RabbitMQ adapter of Broker against real RabbitMQ servers (label amqp):
# the run's shared node (the `servers` fixture), and, for the OwnServer test
# that stops and restarts RabbitMQ, a node of the test's own.
add_executable(amqp_broker_test integration/amqp_broker_test.cpp)
target_compile_definitions(amqp_broker_test PRIVATE V2M_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(amqp_broker_test PRIVATE v2m::broker v2m_test_support GTest::gtest_main)
gtest_discover_tests(amqp_broker_test
  TEST_FILTER "-*OwnServer*"
  DISCOVERY_TIMEOUT 60
  PROPERTIES
    LABELS amqp
    FIXTURES_REQUIRED servers
    TIMEOUT 300
    ENVIRONMENT_MODIFICATION "V2M_TESTENV=set:${V2M_TESTENV_DIR}")
gtest_discover_tests(amqp_broker_test
  TEST_FILTER "*OwnServer*"
  DISCOVERY_TIMEOUT 60
  PROPERTIES
    LABELS amqp
    TIMEOUT 600)
