// Example models as layer lists for the hardware models: fmnist-cnn's LUT layers and resnet18-cifar's 3x3 stage convs.
import { convLayer, linearLayer, type HwLayer, type Metric } from './lut-dla-layers.js';

/*
 * Shapes follow src/nn/zoo.ts (names too). fmnist-cnn: conv1 (1→32) and fc2 (256→10) stay dense in lutnn's LUT
 * conversion, so the LUT layers are conv2 (28×28, 32→32), conv3 (14×14, 32→64), conv4 (14×14, 64→64), all 3×3
 * pad 1 with V = 9, and fc1 (3136→256) with V = 16.
 * resnet18-cifar (3×32×32): the 16 3×3 convs of the four stages (64, 128, 256, 512 channels on 32, 16, 8, 4 maps;
 * the first conv of stages 2–4 has stride 2), V = 9. Left out: the stem conv (3 input channels, kept dense as usual),
 * the three 1×1 shortcut convs and the classifier.
 */

/** fmnist-cnn's LUT layers with K centroids and one metric. */
export function fmnistCnnLutLayers(k = 16, metric: Metric = 'l2'): HwLayer[] {
  const v9 = { subvecLen: 9, k, metric };
  return [
    convLayer('conv2', { inH: 28, inW: 28, cin: 32, cout: 32, kernel: 3, padding: 1 }, v9),
    convLayer('conv3', { inH: 14, inW: 14, cin: 32, cout: 64, kernel: 3, padding: 1 }, v9),
    convLayer('conv4', { inH: 14, inW: 14, cin: 64, cout: 64, kernel: 3, padding: 1 }, v9),
    linearLayer('fc1', 3136, 256, { rows: 1 }, { subvecLen: 16, k, metric }),
  ];
}

/** resnet18-cifar's 3×3 stage convs (layerS.B.convI) as LUT layers with V = 9. */
export function resnet18CifarConvLayers(k = 16, metric: Metric = 'l2'): HwLayer[] {
  const lut = { subvecLen: 9, k, metric };
  const layers: HwLayer[] = [];
  let cin = 64;
  let size = 32;
  [64, 128, 256, 512].forEach((cout, s) => {
    for (let b = 0; b < 2; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const c1 = convLayer(`layer${s + 1}.${b}.conv1`, { inH: size, inW: size, cin, cout, kernel: 3, stride, padding: 1 }, lut);
      size = c1.conv!.outH;
      layers.push(c1, convLayer(`layer${s + 1}.${b}.conv2`, { inH: size, inW: size, cin: cout, cout, kernel: 3, padding: 1 }, lut));
      cin = cout;
    }
  });
  return layers;
}
