using System.Diagnostics;
using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

torch.set_num_threads(2);
int bs = int.Parse(args[0]);
int res = int.Parse(args[1]);
var ch = args[2].Split(',').Select(int.Parse).ToArray();
var down = args[3].Split(',');
var up = down.Reverse().Select(d => d.Replace("Down", "Up")).ToArray();
int lpb = int.Parse(args[4]);
int inCh = int.Parse(args[5]);
var cfg = new UNet2DConditionConfig { BlockOutChannels = ch, DownBlockTypes = down, UpBlockTypes = up, LayersPerBlock = lpb,
  InChannels = inCh, OutChannels = inCh, CrossAttentionDim = 64, AttentionHeadDim = 4, NormNumGroups = 16 };
var unet = new UNet2DConditionModel(cfg);
Console.WriteLine($"params {unet.parameters().Sum(p => p.numel())/1e6:F2}M");
var opt = torch.optim.AdamW(unet.parameters(), 1e-3);
var x = torch.randn(bs, inCh, res, res); var ctx = torch.randn(bs, 77, 64); var t = torch.randint(0, 1000, bs);
var sw = new Stopwatch();
for (int i = 0; i < 6; i++) {
  if (i == 2) sw.Restart();
  using var scope = torch.NewDisposeScope();
  opt.zero_grad();
  var o = unet.Forward(x, t, ctx);
  var loss = (o - x).pow(2).mean(); loss.backward(); opt.step();
}
Console.WriteLine($"step {sw.Elapsed.TotalSeconds/4:F3}s");
