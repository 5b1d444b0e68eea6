// Placeholder: the time_series plugin is being written.
#include <torchexam/plugin.hpp>
