# The PostgreSQL blob store on real servers (label pg): the BlobStore contract
# (src/blob/blob_store_contract.cpp) and what only a database shows. Each test
# makes a database of its own on the run's server; the OwnServer tests start
# a PostgreSQL of their own with scripts/testenv, to stop and start it.
add_executable(pg_blob_store_test integration/pg_blob_store_test.cpp)
target_compile_definitions(pg_blob_store_test PRIVATE V2M_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
target_link_libraries(pg_blob_store_test PRIVATE v2m_blob_contract v2m_test_support GTest::gtest_main)
# The prefix lets `ctest -R blob` find them.
gtest_discover_tests(pg_blob_store_test
  TEST_PREFIX "pg_blob."
  DISCOVERY_TIMEOUT 60
  PROPERTIES
    LABELS pg
    FIXTURES_REQUIRED servers
    TIMEOUT 300
    ENVIRONMENT_MODIFICATION "V2M_TESTENV=set:${V2M_TESTENV_DIR}")
