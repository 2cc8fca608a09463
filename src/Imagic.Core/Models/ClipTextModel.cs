using System.Text.Json.Serialization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>transformers' <c>CLIPTextConfig</c> (<c>text_encoder/config.json</c>); defaults are CLIP ViT-L/14's.</summary>
public sealed record ClipTextConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; } = 49408;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; } = 512;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; } = 2048;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; } = 8;
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 77;

    /// <summary><c>quick_gelu</c> in SD 1.x (OpenAI CLIP), <c>gelu</c> in SD 2.x (OpenCLIP).</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "quick_gelu";
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; init; } = 1e-5;

    public static ClipTextConfig FromFile(string path)
    {
        var c = ModelConfigJson.Read<ClipTextConfig>(path);
        Layers.CheckActivation(c.HiddenAct, path);
        if (c.HiddenSize % c.NumAttentionHeads != 0)
            throw new ImagicException($"{path}: hidden_size {c.HiddenSize} is not divisible by num_attention_heads {c.NumAttentionHeads}.");
        return c;
    }
}

/// <summary>One pre-norm CLIP encoder layer: causal self-attention and an MLP, each residual.</summary>
public sealed class ClipEncoderLayer : Module
{
    public readonly ClipAttention self_attn;
    public readonly LayerNorm layer_norm1;
    public readonly ClipMlp mlp;
    public readonly LayerNorm layer_norm2;

    public ClipEncoderLayer(ClipTextConfig c) : base("CLIPEncoderLayer")
    {
        self_attn = new ClipAttention(c.HiddenSize, c.NumAttentionHeads);
        layer_norm1 = Layers.LayerNorm(c.HiddenSize, c.LayerNormEps);
        mlp = new ClipMlp(c.HiddenSize, c.IntermediateSize, c.HiddenAct);
        layer_norm2 = Layers.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor causalMask)
    {
        x = x.Plus(self_attn.Forward(layer_norm1.call(x), causalMask));
        return x.Plus(mlp.call(layer_norm2.call(x)));
    }
}

/// <summary>CLIP's attention: <c>q_proj</c>, <c>k_proj</c>, <c>v_proj</c>, <c>out_proj</c>, all with bias.</summary>
public sealed class ClipAttention : Module
{
    public readonly Linear q_proj;
    public readonly Linear k_proj;
    public readonly Linear v_proj;
    public readonly Linear out_proj;
    readonly int _heads;

    public ClipAttention(int dim, int heads) : base("CLIPAttention")
    {
        _heads = heads;
        q_proj = nn.Linear(dim, dim);
        k_proj = nn.Linear(dim, dim);
        v_proj = nn.Linear(dim, dim);
        out_proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor mask)
    {
        long b = x.shape[0], n = x.shape[1], d = x.shape[2];
        Tensor Split(Tensor t) => t.view(b, n, _heads, d / _heads).transpose(1, 2);
        var y = functional.scaled_dot_product_attention(Split(q_proj.call(x)), Split(k_proj.call(x)), Split(v_proj.call(x)), attn_mask: mask);
        return out_proj.call(y.transpose(1, 2).reshape(b, n, d));
    }
}

public sealed class ClipMlp : Module<Tensor, Tensor>
{
    public readonly Linear fc1;
    public readonly Linear fc2;
    readonly string _act;

    public ClipMlp(int dim, int intermediate, string act) : base("CLIPMLP")
    {
        _act = act;
        fc1 = nn.Linear(dim, intermediate);
        fc2 = nn.Linear(intermediate, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => fc2.call(Layers.Activate(_act, fc1.call(x)));
}

public sealed class ClipEmbeddings : Module
{
    public readonly Embedding token_embedding;
    public readonly Embedding position_embedding;

    public ClipEmbeddings(ClipTextConfig c) : base("CLIPTextEmbeddings")
    {
        token_embedding = nn.Embedding(c.VocabSize, c.HiddenSize);
        position_embedding = nn.Embedding(c.MaxPositionEmbeddings, c.HiddenSize);
        RegisterComponents();
    }

    public Tensor Forward(Tensor ids)
    {
        var positions = TensorExtensions.Arange(ids.shape[1], ScalarType.Int64, ids.device).unsqueeze(0);
        return token_embedding.call(ids).Plus(position_embedding.call(positions));
    }
}

public sealed class ClipEncoder : Module
{
    public readonly ModuleList<ClipEncoderLayer> layers;

    public ClipEncoder(ClipTextConfig c) : base("CLIPEncoder")
    {
        layers = new ModuleList<ClipEncoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new ClipEncoderLayer(c)).ToArray());
        RegisterComponents();
    }
}

public sealed class ClipTextTransformer : Module
{
    public readonly ClipEmbeddings embeddings;
    public readonly ClipEncoder encoder;
    public readonly LayerNorm final_layer_norm;

    public ClipTextTransformer(ClipTextConfig c) : base("CLIPTextTransformer")
    {
        embeddings = new ClipEmbeddings(c);
        encoder = new ClipEncoder(c);
        final_layer_norm = Layers.LayerNorm(c.HiddenSize, c.LayerNormEps);
        RegisterComponents();
    }
}

/// <summary>
/// transformers' <c>CLIPTextModel</c>: token ids [B, 77] → <c>last_hidden_state</c> [B, 77, hidden],
/// after the final layer norm, which is what Stable Diffusion conditions on. Keys start with
/// <c>text_model.</c>; the checkpoint's <c>position_ids</c> buffer is not needed (positions are 0..76).
/// </summary>
public sealed class ClipTextModel : Module
{
    public readonly ClipTextTransformer text_model;

    public ClipTextConfig Config { get; }

    public ClipTextModel(ClipTextConfig config) : base("CLIPTextModel")
    {
        Config = config;
        text_model = new ClipTextTransformer(config);
        RegisterComponents();
    }

    public Tensor Forward(Tensor ids)
    {
        using var scope = torch.NewDisposeScope();
        long n = ids.shape[1];
        if (n > Config.MaxPositionEmbeddings)
            throw new ImagicException($"The text encoder takes at most {Config.MaxPositionEmbeddings} tokens, got {n}.");
        var x = text_model.embeddings.Forward(ids);
        // Causal mask: each token attends to itself and earlier tokens only (−inf above the diagonal).
        using var negativeInfinity = float.NegativeInfinity.ToScalar();
        var mask = torch.full(n, n, negativeInfinity, dtype: x.dtype, device: x.device).triu(1);
        foreach (var layer in text_model.encoder.layers)
            x = layer.Forward(x, mask);
        return text_model.final_layer_norm.call(x).MoveToOuterDisposeScope();
    }
}
