using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Imagic.IO;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;

namespace Imagic.Tests.IO;

/// <summary>
/// Single-file checkpoints for the tests: tiny ones written from diffusers folders by the inverse mapping, and the key
/// names and shapes of the real SD 1.5 and SD 2.1 files, listed here from LDM's own module layout (openaimodel.py,
/// the VAE's model.py, OpenAI CLIP and OpenCLIP) rather than from the mapping under test.
/// </summary>
internal static class SingleFileTestData
{
    static readonly object Lock = new();
    static string? _sd2Folder;
    static string? _sd1File;

    /// <summary>The tiny SD 1.x reference as one LDM-layout file, written once per test run; read it, do not change it.</summary>
    public static string Sd1TinyFile()
    {
        lock (Lock)
            return _sd1File ??= ToSingleFile(TestPaths.TinySd1, LdmTextLayout.OpenAiClip);
    }

    /// <summary>An SD 2.x-shaped tiny diffusers folder: OpenCLIP-style gelu text encoder, linear projections, head list, '!' padding.</summary>
    public static string Sd2TinyFolder()
    {
        lock (Lock)
        {
            if (_sd2Folder is not null) return _sd2Folder;
            var dir = TestPaths.NewTempDir("imagic-sd2-tiny");
            var tokenizerDir = Path.Combine(dir, "tok");
            Directory.CreateDirectory(tokenizerDir);
            foreach (var f in new[] { "vocab.json", "merges.txt" })
                File.Copy(Path.Combine(TestPaths.TinySd1, "tokenizer", f), Path.Combine(tokenizerDir, f));
            File.WriteAllText(Path.Combine(tokenizerDir, "tokenizer_config.json"),
                """{"model_max_length": 77, "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": "!", "unk_token": "<|endoftext|>"}""");
            torch.manual_seed(21);
            var text = new ClipTextModel(new ClipTextConfig { HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 2, HiddenAct = "gelu" });
            var unet = new UNet2DConditionModel(new UNet2DConditionConfig
            {
                SampleSize = 8,
                BlockOutChannels = new[] { 32, 64 },
                DownBlockTypes = new[] { "CrossAttnDownBlock2D", "DownBlock2D" },
                UpBlockTypes = new[] { "UpBlock2D", "CrossAttnUpBlock2D" },
                LayersPerBlock = 1,
                CrossAttentionDim = 32,
                AttentionHeadDim = new IntOrList(new[] { 2, 4 }),
                NormNumGroups = 8,
                UseLinearProjection = true,
            });
            var vae = new AutoencoderKL(new AutoencoderKLConfig
            {
                BlockOutChannels = new[] { 32, 32 },
                DownBlockTypes = new[] { "DownEncoderBlock2D", "DownEncoderBlock2D" },
                UpBlockTypes = new[] { "UpDecoderBlock2D", "UpDecoderBlock2D" },
                NormNumGroups = 8,
            });
            // GroupNorm weights start as 1 and 0; give them values so that a mix-up of norms would show.
            using (torch.no_grad())
                foreach (var p in new torch.nn.Module[] { text, unet, vae }.SelectMany(m => m.parameters()))
                    p.PlusInPlace(torch.randn_like(p).Times(0.05));
            var model = Path.Combine(dir, "sd2-tiny");
            using (var built = StableDiffusionPipeline.Create(tokenizerDir, text, unet, vae, SingleFileCheckpoint.StandardScheduler(PredictionType.VPrediction)))
                built.Save(model);
            return _sd2Folder = model;
        }
    }

    /// <summary>Writes the folder's pipeline as one LDM-layout file by the inverse mapping.</summary>
    public static string ToSingleFile(string folder, LdmTextLayout layout, string? path = null)
    {
        path ??= Path.Combine(TestPaths.NewTempDir(), "model.safetensors");
        using var pipe = StableDiffusionPipeline.Load(folder);
        SingleFileCheckpoint.Save(path, layout, pipe.TextEncoder, pipe.UNet, pipe.Vae!);
        return path;
    }

    /// <summary>Rewrites a safetensors file with some keys dropped and others added or replaced.</summary>
    public static string Rewrite(string source, Func<string, bool>? keep = null, IDictionary<string, torch.Tensor>? extra = null, string? prefix = null)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "rewritten.safetensors");
        var tensors = SafeTensors.Load(source).Where(kv => keep?.Invoke(kv.Key) ?? true).ToDictionary(kv => kv.Key, kv => kv.Value);
        foreach (var (k, v) in extra ?? new Dictionary<string, torch.Tensor>()) tensors[k] = v;
        SafeTensors.Save(path, tensors.Select(kv => new KeyValuePair<string, torch.Tensor>((prefix ?? "") + kv.Key, kv.Value)));
        return path;
    }

    /// <summary>
    /// A safetensors file with the given names and shapes whose data is a sparse hole: a 4 GB checkpoint's header for
    /// the cost of a few kilobytes of disk. Good for reading shapes, not weights.
    /// </summary>
    public static string SparseFile(IReadOnlyDictionary<string, long[]> shapes, string name = "model.safetensors")
    {
        var path = Path.Combine(TestPaths.NewTempDir(), name);
        var header = new Dictionary<string, object>();
        long offset = 0;
        foreach (var (key, shape) in shapes.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            long bytes = shape.Aggregate(2L, (a, b) => a * b);
            header[key] = new { dtype = "F16", shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        using var stream = File.Create(path);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)json.Length);
        stream.Write(length);
        stream.Write(json);
        stream.SetLength(8 + json.Length + offset);
        return path;
    }

    /// <summary>The widths of a Stable Diffusion family, real or scaled down with the same structure.</summary>
    public sealed record Widths(int[] UNet, int Context, int[] Vae, int Text, int TextLayersStored, int TextMlp, bool Sd2);

    public static readonly Widths Sd15 = new([320, 640, 1280, 1280], 768, [128, 256, 512, 512], 768, 12, 3072, Sd2: false);
    public static readonly Widths Sd21 = new([320, 640, 1280, 1280], 1024, [128, 256, 512, 512], 1024, 24, 4096, Sd2: true);

    /// <summary>
    /// The keys and shapes of an original single-file checkpoint (e.g. v1-5-pruned-emaonly, v2-1_768-ema-pruned), from
    /// LDM's layout: 4 levels of 2 resnets, attention at the first 3, text encoders of 12 (OpenAI) or 24 (OpenCLIP) layers.
    /// </summary>
    public static Dictionary<string, long[]> OriginalLayout(Widths w)
    {
        var keys = new Dictionary<string, long[]>(StringComparer.Ordinal);
        void Add(string key, params long[] shape) => keys[key] = shape;
        void Wb(string key, params long[] shape) { Add(key + ".weight", shape); Add(key + ".bias", shape[0]); }

        const string u = "model.diffusion_model.";
        int temb = w.UNet[0] * 4;
        void Res(string p, int cin, int cout)
        {
            Wb(p + "in_layers.0", cin); Wb(p + "in_layers.2", cout, cin, 3, 3); Wb(p + "emb_layers.1", cout, temb);
            Wb(p + "out_layers.0", cout); Wb(p + "out_layers.3", cout, cout, 3, 3);
            if (cin != cout) Wb(p + "skip_connection", cout, cin, 1, 1);
        }
        void Attn(string p, int c)
        {
            Wb(p + "norm", c);
            if (w.Sd2) { Wb(p + "proj_in", c, c); Wb(p + "proj_out", c, c); }
            else { Wb(p + "proj_in", c, c, 1, 1); Wb(p + "proj_out", c, c, 1, 1); }
            string b = p + "transformer_blocks.0.";
            foreach (var a in new[] { "attn1", "attn2" })
            {
                int ctx = a == "attn1" ? c : w.Context;
                Add(b + a + ".to_q.weight", c, c); Add(b + a + ".to_k.weight", c, ctx); Add(b + a + ".to_v.weight", c, ctx);
                Wb(b + a + ".to_out.0", c, c);
            }
            Wb(b + "ff.net.0.proj", c * 8, c); Wb(b + "ff.net.2", c, c * 4);
            Wb(b + "norm1", c); Wb(b + "norm2", c); Wb(b + "norm3", c);
        }
        Wb(u + "time_embed.0", temb, w.UNet[0]); Wb(u + "time_embed.2", temb, temb);
        Wb(u + "input_blocks.0.0", w.UNet[0], 4, 3, 3);
        int n = 1, ch = w.UNet[0];
        var skips = new List<int> { ch };
        for (int level = 0; level < 4; level++)
        {
            for (int j = 0; j < 2; j++, n++)
            {
                Res($"{u}input_blocks.{n}.0.", ch, w.UNet[level]);
                ch = w.UNet[level];
                if (level < 3) Attn($"{u}input_blocks.{n}.1.", ch);
                skips.Add(ch);
            }
            if (level < 3) { Wb($"{u}input_blocks.{n}.0.op", ch, ch, 3, 3); skips.Add(ch); n++; }
        }
        Res(u + "middle_block.0.", ch, ch); Attn(u + "middle_block.1.", ch); Res(u + "middle_block.2.", ch, ch);
        n = 0;
        for (int level = 3; level >= 0; level--)
            for (int j = 0; j < 3; j++, n++)
            {
                int skip = skips[^1];
                skips.RemoveAt(skips.Count - 1);
                Res($"{u}output_blocks.{n}.0.", ch + skip, w.UNet[level]);
                ch = w.UNet[level];
                bool attention = level < 3;
                if (attention) Attn($"{u}output_blocks.{n}.1.", ch);
                if (level > 0 && j == 2) Wb($"{u}output_blocks.{n}.{(attention ? 2 : 1)}.conv", ch, ch, 3, 3);
            }
        Wb(u + "out.0", ch); Wb(u + "out.2", 4, ch, 3, 3);

        const string v = "first_stage_model.";
        void VRes(string p, int cin, int cout)
        {
            Wb(p + "norm1", cin); Wb(p + "conv1", cout, cin, 3, 3); Wb(p + "norm2", cout); Wb(p + "conv2", cout, cout, 3, 3);
            if (cin != cout) Wb(p + "nin_shortcut", cout, cin, 1, 1);
        }
        void VMid(string p, int c)
        {
            VRes(p + "mid.block_1.", c, c); VRes(p + "mid.block_2.", c, c);
            Wb(p + "mid.attn_1.norm", c);
            foreach (var proj in new[] { "q", "k", "v", "proj_out" }) Wb($"{p}mid.attn_1.{proj}", c, c, 1, 1);
        }
        Wb(v + "encoder.conv_in", w.Vae[0], 3, 3, 3);
        ch = w.Vae[0];
        for (int level = 0; level < 4; level++)
        {
            for (int j = 0; j < 2; j++) { VRes($"{v}encoder.down.{level}.block.{j}.", ch, w.Vae[level]); ch = w.Vae[level]; }
            if (level < 3) Wb($"{v}encoder.down.{level}.downsample.conv", ch, ch, 3, 3);
        }
        VMid(v + "encoder.", ch);
        Wb(v + "encoder.norm_out", ch); Wb(v + "encoder.conv_out", 8, ch, 3, 3);
        Wb(v + "quant_conv", 8, 8, 1, 1); Wb(v + "post_quant_conv", 4, 4, 1, 1);
        Wb(v + "decoder.conv_in", ch, 4, 3, 3);
        VMid(v + "decoder.", ch);
        for (int level = 3; level >= 0; level--)
        {
            for (int j = 0; j < 3; j++) { VRes($"{v}decoder.up.{level}.block.{j}.", ch, w.Vae[level]); ch = w.Vae[level]; }
            if (level > 0) Wb($"{v}decoder.up.{level}.upsample.conv", ch, ch, 3, 3);
        }
        Wb(v + "decoder.norm_out", ch); Wb(v + "decoder.conv_out", 3, ch, 3, 3);

        int d = w.Text;
        if (!w.Sd2)
        {
            const string t = "cond_stage_model.transformer.text_model.";
            Add(t + "embeddings.token_embedding.weight", 49408, d); Add(t + "embeddings.position_embedding.weight", 77, d);
            Add(t + "embeddings.position_ids", 1, 77);
            for (int i = 0; i < w.TextLayersStored; i++)
            {
                string l = $"{t}encoder.layers.{i}.";
                foreach (var proj in new[] { "q_proj", "k_proj", "v_proj", "out_proj" }) Wb($"{l}self_attn.{proj}", d, d);
                Wb(l + "layer_norm1", d); Wb(l + "layer_norm2", d); Wb(l + "mlp.fc1", w.TextMlp, d); Wb(l + "mlp.fc2", d, w.TextMlp);
            }
            Wb(t + "final_layer_norm", d);
        }
        else
        {
            const string m = "cond_stage_model.model.";
            Add(m + "token_embedding.weight", 49408, d); Add(m + "positional_embedding", 77, d);
            Add(m + "text_projection", d, d); Add(m + "logit_scale");
            for (int i = 0; i < w.TextLayersStored; i++)
            {
                string l = $"{m}transformer.resblocks.{i}.";
                Add(l + "attn.in_proj_weight", 3 * d, d); Add(l + "attn.in_proj_bias", 3 * d); Wb(l + "attn.out_proj", d, d);
                Wb(l + "ln_1", d); Wb(l + "ln_2", d); Wb(l + "mlp.c_fc", w.TextMlp, d); Wb(l + "mlp.c_proj", d, w.TextMlp);
            }
            Wb(m + "ln_final", d);
        }
        foreach (var buffer in new[] { "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
                     "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
                     "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2" })
            Add(buffer, 1000);
        Add("model_ema.decay"); Add("model_ema.num_updates");
        return keys;
    }
}
