// Placeholder: the regression plugin is being written.
#include <torchexam/plugin.hpp>
