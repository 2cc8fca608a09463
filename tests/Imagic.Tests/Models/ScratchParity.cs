using Imagic.IO;
using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

public class ScratchParity
{
    static void LoadQuick(nn.Module m, string path, Func<string,string>? map = null)
    {
        using var f = SafeTensorsFile.Open(path);
        var ps = m.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var used = new HashSet<string>();
        foreach (var k in f.Entries.Keys)
        {
            if (k.EndsWith("position_ids")) continue;
            Assert.True(ps.ContainsKey(k), "unexpected " + k);
            var t = f.Read(k);
            Assert.Equal(ps[k].shape, t.shape);
            using (torch.no_grad()) ps[k].copy_(t);
            used.Add(k);
        }
        Assert.Equal(ps.Count, used.Count);
    }

    [Fact]
    public void Scratch()
    {
        var dir = TestPaths.TinySd1;
        var clip = new ClipTextModel(ClipTextConfig.FromFile(Path.Combine(dir, "text_encoder/config.json")));
        LoadQuick(clip, Path.Combine(dir, "text_encoder/model.safetensors"));
        using (torch.no_grad())
        {
            var emb = clip.Forward(Reference.Get("token_ids"));
            Reference.AssertClose(Reference.Get("text_embeddings"), emb, 1e-4, "clip");
        }
        var unet = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(Path.Combine(dir, "unet/config.json")));
        LoadQuick(unet, Path.Combine(dir, "unet/diffusion_pytorch_model.safetensors"));
        using (torch.no_grad())
            foreach (var t in new[] { 1, 500, 999 })
            {
                var o = unet.Forward(Reference.Get("unet_in"), torch.tensor(new long[] { t, t }), Reference.Get("unet_ctx"));
                Reference.AssertClose(Reference.Get($"unet_out_t{t}"), o, 1e-4, "unet" + t);
            }
        var vae = new AutoencoderKL(AutoencoderKLConfig.FromFile(Path.Combine(dir, "vae/config.json")));
        LoadQuick(vae, Path.Combine(dir, "vae/diffusion_pytorch_model.safetensors"));
        using (torch.no_grad())
        {
            var post = vae.Encode(Reference.Get("vae_in"));
            Reference.AssertClose(Reference.Get("vae_mean"), post.Mean, 1e-4, "mean");
            Reference.AssertClose(Reference.Get("vae_logvar"), post.LogVar, 1e-4, "logvar");
            Reference.AssertClose(Reference.Get("vae_dec_out"), vae.Decode(Reference.Get("vae_dec_in")), 1e-4, "dec");
        }
    }
}
