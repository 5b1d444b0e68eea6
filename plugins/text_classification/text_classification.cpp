// Placeholder: the text_classification plugin is being written.
#include <torchexam/plugin.hpp>
