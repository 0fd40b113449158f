"""VoxDesk test suite: unit tests run without services; integration tests use app.harness rigs."""
