// Placeholder: the real_world_images plugin is being written.
#include <torchexam/plugin.hpp>
