// A shared library without the plugin entry point.
extern "C" int torchexam_something_else(void) { return 42; }
