using static TorchSharp.torch;

namespace Imagic.IO;

/// <summary>
/// Every rename from old checkpoint key names to the current diffusers names lives here, so that
/// models keep a single naming contract (their field names) and loaders stay strict.
/// </summary>
public static class LegacyKeys
{
    // Old name of an attention projection → current name (diffusers' _convert_deprecated_attention_blocks).
    static readonly Dictionary<string, string> VaeAttentionRenames = new(StringComparer.Ordinal)
    {
        ["query"] = "to_q",
        ["key"] = "to_k",
        ["value"] = "to_v",
        ["proj_attn"] = "to_out.0",
    };

    static readonly HashSet<string> AttentionProjections = new(StringComparer.Ordinal) { "to_q", "to_k", "to_v", "to_out.0" };

    /// <summary>
    /// Maps one AutoencoderKL checkpoint entry to the current diffusers name and shape. Other keys pass
    /// through unchanged (the same tensor is returned).
    /// </summary>
    /// <remarks>
    /// Checkpoints written before diffusers 0.14, and VAEs converted from CompVis, name the mid-block
    /// attention projections <c>attentions.N.query/key/value/proj_attn</c> instead of
    /// <c>attentions.N.to_q/to_k/to_v/to_out.0</c>. Converted CompVis weights may also keep the shape
    /// [out, in, 1, 1] of the 1x1 convolutions the original model used; a 1x1 convolution equals a
    /// linear layer, so the weight is reshaped to [out, in]. A returned reshaped tensor is a view of
    /// <paramref name="value"/>: dispose both (a dispose scope does).
    /// </remarks>
    public static (string key, Tensor value) RemapVae(string key, Tensor value)
    {
        // Keys look like "decoder.mid_block.attentions.0.query.weight": find "attentions.<i>.<name>.<param>".
        var parts = key.Split('.');
        int n = parts.Length;
        if (n < 4 || parts[^1] is not ("weight" or "bias"))
            return (key, value);

        string projection;
        string prefix;
        if (parts[^3] == "to_out" && parts[^2] == "0" && IsAttentionIndex(parts, n - 4))
        {
            projection = "to_out.0";
            prefix = string.Join('.', parts[..(n - 3)]);
        }
        else if (IsAttentionIndex(parts, n - 3))
        {
            projection = VaeAttentionRenames.GetValueOrDefault(parts[^2], parts[^2]);
            prefix = string.Join('.', parts[..(n - 2)]);
        }
        else
        {
            return (key, value);
        }
        if (!AttentionProjections.Contains(projection))
            return (key, value); // e.g. attentions.0.group_norm.weight: unchanged

        string newKey = $"{prefix}.{projection}.{parts[^1]}";
        if (parts[^1] == "weight" && value.dim() == 4 && value.shape[2] == 1 && value.shape[3] == 1)
            return (newKey, value.reshape(value.shape[0], value.shape[1]));
        return (newKey, value);
    }

    // True when parts[i-1] == "attentions" and parts[i] is a block index.
    static bool IsAttentionIndex(string[] parts, int i) =>
        i >= 1 && parts[i - 1] == "attentions" && int.TryParse(parts[i], out _);
}
