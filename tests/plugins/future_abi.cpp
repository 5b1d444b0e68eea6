// A plugin that claims an ABI version from the future: the host must refuse it.
#include <torchexam/plugin_abi.h>

extern "C" __attribute__((visibility("default"))) const torchexam_plugin_header* torchexam_plugin_entry(void) {
  static const torchexam_plugin_header header = {TORCHEXAM_PLUGIN_ABI_VERSION + 98, sizeof(torchexam_plugin_header),
                                                 "future"};
  return &header;
}
