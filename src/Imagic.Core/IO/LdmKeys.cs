using Imagic.Models;

namespace Imagic.IO;

/// <summary>The three networks of a Stable Diffusion checkpoint.</summary>
public enum SdComponent { TextEncoder, UNet, Vae }

/// <summary>The text encoder layout of a single-file checkpoint, which also names the Stable Diffusion family.</summary>
public enum LdmTextLayout
{
    /// <summary>SD 1.x: OpenAI CLIP ViT-L/14 under <c>cond_stage_model.transformer.</c>, already in the transformers layout.</summary>
    OpenAiClip,
    /// <summary>SD 2.x: OpenCLIP ViT-H/14 under <c>cond_stage_model.model.</c>, with fused q/k/v projections.</summary>
    OpenClip,
}

/// <summary>How a diffusers tensor is cut from, or put back into, its LDM tensor.</summary>
public enum LdmTransform
{
    /// <summary>The same tensor.</summary>
    None,
    /// <summary>The VAE's mid-block attention: LDM stores 1×1 convolutions [out, in, 1, 1], diffusers linear layers [out, in].</summary>
    Conv1x1,
    /// <summary>OpenCLIP's fused <c>in_proj</c>: rows [0, d) are q.</summary>
    FusedQ,
    /// <summary>Rows [d, 2d) of the fused <c>in_proj</c> are k.</summary>
    FusedK,
    /// <summary>Rows [2d, 3d) of the fused <c>in_proj</c> are v.</summary>
    FusedV,
}

/// <summary>Where one diffusers parameter lives in a single-file checkpoint.</summary>
public sealed record LdmKey(string Key, LdmTransform Transform);

/// <summary>What the LDM numbering of blocks depends on, read from the diffusers configs.</summary>
/// <param name="UNetLayersPerBlock">The UNet's <c>layers_per_block</c>.</param>
/// <param name="UpBlockHasAttention">Per UNet up block: does it have attentions (the upsampler then sits at <c>.2</c>, else <c>.1</c>)?</param>
/// <param name="VaeLevels">The VAE's number of resolution levels: the decoder's <c>up</c> blocks are numbered in reverse.</param>
public sealed record LdmLayout(LdmTextLayout Text, int UNetLayersPerBlock, bool[] UpBlockHasAttention, int VaeLevels)
{
    public static LdmLayout From(LdmTextLayout text, UNet2DConditionConfig unet, AutoencoderKLConfig? vae) =>
        new(text, unet.LayersPerBlock, unet.UpBlockTypes.Select(t => t.StartsWith("CrossAttn", StringComparison.Ordinal)).ToArray(),
            vae?.BlockOutChannels.Length ?? 0);
}

/// <summary>
/// Every rename between the original CompVis/LDM single-file layout (<c>v1-5-pruned-emaonly.safetensors</c>) and
/// the diffusers layout this project's models use. Both directions derive from one function,
/// <see cref="ToLdm"/>, so loading and writing a single file cannot disagree.
/// </summary>
/// <remarks>
/// Written from the layouts of LDM's <c>openaimodel.py</c> (UNet), <c>autoencoder.py</c>/<c>model.py</c> (VAE)
/// and OpenCLIP's <c>transformer.py</c>, as diffusers' <c>convert_from_ckpt.py</c> and
/// <c>convert_diffusers_to_original_stable_diffusion.py</c> pair them:
/// <list type="bullet">
/// <item>UNet (<c>model.diffusion_model.</c>): <c>input_blocks.0.0</c> is <c>conv_in</c>; level i of the down path
/// is <c>input_blocks</c> 1 + i·(L+1) … with L resnets (and attentions at <c>.1</c>) and a downsampler
/// <c>.0.op</c>; the up path is <c>output_blocks</c> i·(L+1) … with L+1 resnets and the upsampler after the
/// attention; <c>middle_block.0/1/2</c> are resnet, attention, resnet.</item>
/// <item>VAE (<c>first_stage_model.</c>): <c>down.i.block.j</c>, <c>mid.block_1/attn_1/block_2</c>, and
/// <c>up</c> numbered from the lowest resolution, so decoder up block i is <c>up.{n−1−i}</c>.</item>
/// <item>Text encoder: SD 1.x keys are transformers keys behind <c>cond_stage_model.transformer.</c>; SD 2.x keys
/// are OpenCLIP's (<c>resblocks</c>, <c>ln_1</c>, <c>attn.in_proj_weight</c>, <c>mlp.c_fc</c>, …).</item>
/// </list>
/// </remarks>
public static class LdmKeys
{
    public const string UNetPrefix = "model.diffusion_model.";
    public const string VaePrefix = "first_stage_model.";
    public const string OpenAiClipPrefix = "cond_stage_model.transformer.";
    public const string OpenClipPrefix = "cond_stage_model.model.";

    /// <summary>The LDM training buffers of the noise schedule: derived from β, never weights of a network.</summary>
    static readonly HashSet<string> ScheduleBuffers = new(StringComparer.Ordinal)
    {
        "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
        "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
        "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2", "logvar",
    };

    static readonly Dictionary<string, string> UNetResnet = new(StringComparer.Ordinal)
    {
        ["norm1"] = "in_layers.0", ["conv1"] = "in_layers.2", ["time_emb_proj"] = "emb_layers.1",
        ["norm2"] = "out_layers.0", ["conv2"] = "out_layers.3", ["conv_shortcut"] = "skip_connection",
    };

    static readonly Dictionary<string, string> VaeAttention = new(StringComparer.Ordinal)
    {
        ["group_norm"] = "norm", ["to_q"] = "q", ["to_k"] = "k", ["to_v"] = "v", ["to_out.0"] = "proj_out",
    };

    static readonly Dictionary<string, string> OpenClipLayer = new(StringComparer.Ordinal)
    {
        ["layer_norm1"] = "ln_1", ["layer_norm2"] = "ln_2", ["self_attn.out_proj"] = "attn.out_proj",
        ["mlp.fc1"] = "mlp.c_fc", ["mlp.fc2"] = "mlp.c_proj",
    };

    /// <summary>
    /// The LDM key of the diffusers parameter <paramref name="key"/> of <paramref name="component"/>, or null when
    /// the LDM layout has no place for it (e.g. this project's coordinate channels or text-time embedding).
    /// </summary>
    public static LdmKey? ToLdm(SdComponent component, string key, LdmLayout layout) =>
        component switch
        {
            SdComponent.UNet => UNetKey(key, layout) is { } k ? new LdmKey(UNetPrefix + k, LdmTransform.None) : null,
            SdComponent.Vae => VaeKey(key, layout.VaeLevels),
            SdComponent.TextEncoder => layout.Text == LdmTextLayout.OpenAiClip
                ? new LdmKey(OpenAiClipPrefix + key, LdmTransform.None)
                : OpenClipKey(key),
            _ => null,
        };

    /// <summary>
    /// True for checkpoint keys that are known and deliberately not loaded: EMA copies (<c>model_ema.*</c>), the
    /// noise-schedule buffers, the VAE's training loss, CLIP's <c>position_ids</c> (positions are 0…76), and OpenCLIP's projection, logit
    /// scale and attention mask (SD 2.x uses the penultimate layer's output, before any of them).
    /// </summary>
    public static bool IsIgnored(string key) =>
        key.StartsWith("model_ema.", StringComparison.Ordinal)
        || ScheduleBuffers.Contains(key)
        || key.StartsWith(VaePrefix + "loss.", StringComparison.Ordinal)
        || key == OpenAiClipPrefix + "text_model.embeddings.position_ids"
        // diffusers' convert_diffusers_to_original_stable_diffusion.py copies an SD 2.x text encoder's position_ids as is.
        || key == OpenClipPrefix + "text_model.embeddings.position_ids"
        || key is OpenClipPrefix + "text_projection" or OpenClipPrefix + "logit_scale" or OpenClipPrefix + "attn_mask";

    /// <summary>
    /// The EMA copy of a UNet key, as LDM's <c>LitEma</c> stores it: <c>model_ema.</c> and the parameter's name in the
    /// diffusion wrapper with its dots removed (<c>model.diffusion_model.out.2.weight</c> →
    /// <c>model_ema.diffusion_modelout2weight</c>). Only the UNet has an EMA.
    /// </summary>
    public static string EmaKey(string unetKey) =>
        "model_ema." + unetKey["model.".Length..].Replace(".", "", StringComparison.Ordinal);

    /// <summary>The index N of a key under <c>cond_stage_model.model.transformer.resblocks.N.</c>, or null.</summary>
    public static int? OpenClipResblock(string key)
    {
        const string p = OpenClipPrefix + "transformer.resblocks.";
        if (!key.StartsWith(p, StringComparison.Ordinal)) return null;
        int dot = key.IndexOf('.', p.Length);
        return dot > p.Length && int.TryParse(key.AsSpan(p.Length, dot - p.Length), out int n) ? n : null;
    }

    static string? UNetKey(string key, LdmLayout layout)
    {
        int layers = layout.UNetLayersPerBlock;
        var p = key.Split('.');
        string Rest(int from) => string.Join('.', p[from..]);
        switch (p[0])
        {
            case "conv_in": return "input_blocks.0.0." + Rest(1);
            case "conv_norm_out": return "out.0." + Rest(1);
            case "conv_out": return "out.2." + Rest(1);
            case "time_embedding" when p.Length == 3 && p[1] is "linear_1" or "linear_2":
                return $"time_embed.{(p[1] == "linear_1" ? 0 : 2)}.{p[2]}";
            case "down_blocks" when p.Length > 4 && int.TryParse(p[1], out int i) && int.TryParse(p[3], out int j):
                int first = 1 + i * (layers + 1);
                return p[2] switch
                {
                    "resnets" => ResnetKey($"input_blocks.{first + j}.0", Rest(4)),
                    "attentions" => $"input_blocks.{first + j}.1.{Rest(4)}",
                    "downsamplers" when j == 0 && p[4] == "conv" => $"input_blocks.{first + layers}.0.op.{Rest(5)}",
                    _ => null,
                };
            case "up_blocks" when p.Length > 4 && int.TryParse(p[1], out int i) && int.TryParse(p[3], out int j):
                int start = i * (layers + 1);
                return p[2] switch
                {
                    "resnets" => ResnetKey($"output_blocks.{start + j}.0", Rest(4)),
                    "attentions" => $"output_blocks.{start + j}.1.{Rest(4)}",
                    // The upsampler follows the level's last resnet, and its attention when the block has one.
                    "upsamplers" when j == 0 && p[4] == "conv" && i < layout.UpBlockHasAttention.Length =>
                        $"output_blocks.{start + layers}.{(layout.UpBlockHasAttention[i] ? 2 : 1)}.conv.{Rest(5)}",
                    _ => null,
                };
            case "mid_block" when p.Length > 3 && int.TryParse(p[2], out int j):
                return p[1] switch
                {
                    "resnets" when j is 0 or 1 => ResnetKey($"middle_block.{2 * j}", Rest(3)),
                    "attentions" when j == 0 => "middle_block.1." + Rest(3),
                    _ => null,
                };
            default: return null;
        }
    }

    static string? ResnetKey(string prefix, string rest)
    {
        int dot = rest.IndexOf('.');
        if (dot < 0 || !UNetResnet.TryGetValue(rest[..dot], out var ldm)) return null;
        return $"{prefix}.{ldm}{rest[dot..]}";
    }

    static LdmKey? VaeKey(string key, int levels)
    {
        var p = key.Split('.');
        string Rest(int from) => string.Join('.', p[from..]);
        LdmKey Plain(string k) => new(VaePrefix + k, LdmTransform.None);
        if (p[0] is "quant_conv" or "post_quant_conv") return Plain(key);
        if (p[0] is not ("encoder" or "decoder") || p.Length < 3) return null;
        string coder = p[0];
        switch (p[1])
        {
            case "conv_in" or "conv_out": return Plain(key);
            case "conv_norm_out": return Plain($"{coder}.norm_out.{Rest(2)}");
            case "mid_block" when p.Length > 4 && int.TryParse(p[3], out int j):
                if (p[2] == "resnets" && j is 0 or 1)
                    return VaeResnet($"{coder}.mid.block_{j + 1}", Rest(4));
                if (p[2] == "attentions" && j == 0)
                {
                    string projection = p[4] == "to_out" && p.Length > 6 && p[5] == "0" ? "to_out.0" : p[4];
                    if (!VaeAttention.TryGetValue(projection, out var ldm)) return null;
                    string param = p[^1];
                    var transform = projection != "group_norm" && param == "weight" ? LdmTransform.Conv1x1 : LdmTransform.None;
                    return new LdmKey($"{VaePrefix}{coder}.mid.attn_1.{ldm}.{param}", transform);
                }
                return null;
            case "down_blocks" when coder == "encoder" && p.Length > 5 && int.TryParse(p[2], out int i) && int.TryParse(p[4], out int j):
                return p[3] switch
                {
                    "resnets" => VaeResnet($"encoder.down.{i}.block.{j}", Rest(5)),
                    "downsamplers" when j == 0 && p[5] == "conv" => Plain($"encoder.down.{i}.downsample.conv.{Rest(6)}"),
                    _ => null,
                };
            case "up_blocks" when coder == "decoder" && p.Length > 5 && int.TryParse(p[2], out int i) && int.TryParse(p[4], out int j):
                int level = levels - 1 - i;
                return p[3] switch
                {
                    "resnets" => VaeResnet($"decoder.up.{level}.block.{j}", Rest(5)),
                    "upsamplers" when j == 0 && p[5] == "conv" => Plain($"decoder.up.{level}.upsample.conv.{Rest(6)}"),
                    _ => null,
                };
            default: return null;
        }
    }

    static LdmKey? VaeResnet(string prefix, string rest)
    {
        int dot = rest.IndexOf('.');
        if (dot < 0) return null;
        string name = rest[..dot];
        string? ldm = name switch
        {
            "norm1" or "conv1" or "norm2" or "conv2" => name,
            "conv_shortcut" => "nin_shortcut",
            _ => null,
        };
        return ldm is null ? null : new LdmKey($"{VaePrefix}{prefix}.{ldm}{rest[dot..]}", LdmTransform.None);
    }

    static LdmKey? OpenClipKey(string key)
    {
        LdmKey Plain(string k) => new(OpenClipPrefix + k, LdmTransform.None);
        switch (key)
        {
            case "text_model.embeddings.token_embedding.weight": return Plain("token_embedding.weight");
            case "text_model.embeddings.position_embedding.weight": return Plain("positional_embedding");
            case "text_model.final_layer_norm.weight": return Plain("ln_final.weight");
            case "text_model.final_layer_norm.bias": return Plain("ln_final.bias");
        }
        const string layers = "text_model.encoder.layers.";
        if (!key.StartsWith(layers, StringComparison.Ordinal)) return null;
        var p = key[layers.Length..].Split('.');
        if (p.Length < 3 || !int.TryParse(p[0], out int n)) return null;
        string block = $"transformer.resblocks.{n}";
        string param = p[^1];
        string module = string.Join('.', p[1..^1]);
        if (module is "self_attn.q_proj" or "self_attn.k_proj" or "self_attn.v_proj")
        {
            var transform = module[10] switch { 'q' => LdmTransform.FusedQ, 'k' => LdmTransform.FusedK, _ => LdmTransform.FusedV };
            return new LdmKey($"{OpenClipPrefix}{block}.attn.in_proj_{param}", transform);
        }
        return OpenClipLayer.TryGetValue(module, out var ldm) ? Plain($"{block}.{ldm}.{param}") : null;
    }
}
