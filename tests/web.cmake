# The web app in a real browser (label web): tests/web/run.sh starts
# `video2mp3 all` with open registration, and tests/web/ui_test.js drives
# Debian's Chromium through playwright-core (tests/web/package-lock.json,
# installed by scripts/install-deps.sh): register, sign in, upload through the
# page (progress, cancel), watch the live list reach done and a long input
# convert with a rising percentage, download and check the MP3, play it, the
# reasons of failed jobs (not a video, no audio track), too large, server busy,
# session ended, CSRF, names and keyboard focus of the controls, a second user
# on a phone-sized screen, sign out. Screenshots go to web-artifacts/.
add_test(NAME web.ui
         COMMAND bash ${PROJECT_SOURCE_DIR}/tests/web/run.sh $<TARGET_FILE:video2mp3> ${V2M_FIXTURES_DIR}
                 ${CMAKE_BINARY_DIR}/web-artifacts)
set_tests_properties(web.ui PROPERTIES LABELS web FIXTURES_REQUIRED media TIMEOUT 300)
