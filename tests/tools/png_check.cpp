// png_check FILE.png MIN_STDDEV — reads a PNG with libpng and prints its
// size, the standard deviation of its grey levels (0-255) and the share of
// pixels that differ from the most common one. Exits 0 when the image is
// not near-uniform: stddev >= MIN_STDDEV and at least 2% of the pixels
// differ from the background; 1 when it is (a blank page); 2 when it does
// not read as a PNG. For the browser test (tests/report/render_in_chromium.sh).
#include <png.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: png_check FILE.png MIN_STDDEV\n");
    return 2;
  }
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, argv[1])) {
    std::fprintf(stderr, "png_check: %s: %s\n", argv[1], image.message);
    return 2;
  }
  image.format = PNG_FORMAT_GRAY;
  std::vector<png_byte> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    std::fprintf(stderr, "png_check: %s: %s\n", argv[1], image.message);
    return 2;
  }
  double sum = 0, sum2 = 0;
  std::map<int, size_t> histogram;
  for (png_byte p : pixels) sum += p, sum2 += double(p) * p, ++histogram[p];
  const double n = static_cast<double>(pixels.size());
  const double mean = sum / n, stddev = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
  size_t background = 0;
  for (const auto& [level, count] : histogram) background = std::max(background, count);
  const double differ = 1.0 - static_cast<double>(background) / n;
  const double min_stddev = std::atof(argv[2]);
  std::printf("%s: %ux%u, grey stddev %.2f, %.1f%% of pixels differ from the background\n", argv[1], image.width,
              image.height, stddev, differ * 100);
  if (stddev < min_stddev || differ < 0.02) {
    std::fprintf(stderr, "png_check: %s is near-uniform (a blank page?)\n", argv[1]);
    return 1;
  }
  return 0;
}
