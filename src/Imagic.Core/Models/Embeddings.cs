using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>
/// Sinusoidal timestep features, diffusers' <c>get_timestep_embedding</c>:
/// <c>exp(-ln(10000)·i/(half − freq_shift))</c> frequencies, sin then cos, or cos then sin when
/// <c>flip_sin_to_cos</c> (SD's setting).
/// </summary>
public static class TimestepFeatures
{
    public static Tensor Embed(Tensor timesteps, int dim, bool flipSinToCos, double freqShift, double maxPeriod = 10000)
    {
        using var scope = torch.NewDisposeScope();
        int half = dim / 2;
        var exponent = TensorExtensions.Arange(0, half, ScalarType.Float32, timesteps.device).Times(-Math.Log(maxPeriod)).Over(half - freqShift);
        var freqs = torch.exp(exponent);
        var args = timesteps.to_type(ScalarType.Float32).unsqueeze(1) * freqs.unsqueeze(0);
        var emb = flipSinToCos
            ? torch.cat(new[] { torch.cos(args), torch.sin(args) }, dim: -1)
            : torch.cat(new[] { torch.sin(args), torch.cos(args) }, dim: -1);
        if (dim % 2 == 1)
            emb = functional.pad(emb, new long[] { 0, 1 });
        return emb.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>TimestepEmbedding</c>: linear → act → linear.</summary>
public sealed class TimestepEmbedding : Module<Tensor, Tensor>
{
    public readonly Linear linear_1;
    public readonly Linear linear_2;
    readonly string _act;

    public TimestepEmbedding(int inChannels, int timeEmbedDim, string act = "silu") : base(nameof(TimestepEmbedding))
    {
        _act = act;
        linear_1 = nn.Linear(inChannels, timeEmbedDim);
        linear_2 = nn.Linear(timeEmbedDim, timeEmbedDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => linear_2.call(Layers.Activate(_act, linear_1.call(x)));
}

/// <summary>
/// diffusers' <c>TextTimeEmbedding</c> (<c>addition_embed_type: "text"</c>, as in Imagen and DeepFloyd IF):
/// the text embeddings pooled into one vector by attention, projected to the time-embedding width and
/// added to the timestep embedding, so every resnet at every resolution sees the whole caption, not only
/// the blocks with cross-attention.
/// </summary>
public sealed class TextTimeEmbedding : Module<Tensor, Tensor>
{
    public readonly LayerNorm norm1;
    public readonly AttentionPooling pool;
    public readonly Linear proj;
    public readonly LayerNorm norm2;

    public TextTimeEmbedding(int encoderDim, int timeEmbedDim, int heads) : base(nameof(TextTimeEmbedding))
    {
        norm1 = Layers.LayerNorm(encoderDim, 1e-5);
        pool = new AttentionPooling(heads, encoderDim);
        proj = nn.Linear(encoderDim, timeEmbedDim);
        norm2 = Layers.LayerNorm(timeEmbedDim, 1e-5);
        RegisterComponents();
    }

    /// <param name="context">Text embeddings [B, L, encoderDim].</param>
    /// <returns>[B, timeEmbedDim], to be added to the timestep embedding.</returns>
    public override Tensor forward(Tensor context) => norm2.call(proj.call(pool.call(norm1.call(context))));
}

/// <summary>
/// diffusers' <c>AttentionPooling</c> (from CLIP's image encoder): a query made of the mean token plus a
/// learned offset attends, per head, over itself and every token; the result is one vector per sequence.
/// </summary>
public sealed class AttentionPooling : Module<Tensor, Tensor>
{
    public readonly Parameter positional_embedding;
    public readonly Linear k_proj;
    public readonly Linear q_proj;
    public readonly Linear v_proj;
    public int Heads { get; }

    public AttentionPooling(int heads, int dim) : base(nameof(AttentionPooling))
    {
        if (dim % heads != 0)
            throw new ImagicException($"AttentionPooling: {dim} channels cannot be split into {heads} heads; check addition_embed_type_num_heads.");
        Heads = heads;
        using (torch.no_grad())
            // Out of any dispose scope: a Parameter takes its data's place in the scope.
            positional_embedding = new Parameter(torch.randn(1, dim).Over(Math.Sqrt(dim)).DetachFromDisposeScope(), requires_grad: true);
        k_proj = nn.Linear(dim, dim);
        q_proj = nn.Linear(dim, dim);
        v_proj = nn.Linear(dim, dim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        long batch = x.shape[0], width = x.shape[2], headDim = width / Heads;
        var query = x.mean(new long[] { 1 }, keepdim: true).Plus(positional_embedding.to_type(x.dtype)); // [B, 1, W]
        var tokens = torch.cat(new[] { query, x }, 1);                                               // [B, 1+L, W]

        // [B, N, W] → [B, heads, N, headDim]
        Tensor Split(Tensor t) => t.view(batch, -1, Heads, headDim).transpose(1, 2);
        var q = Split(q_proj.call(query));
        var k = Split(k_proj.call(tokens));
        var v = Split(v_proj.call(tokens));
        var weights = torch.softmax(q.matmul(k.transpose(-1, -2)).Over(Math.Sqrt(headDim)), -1); // [B, heads, 1, 1+L]
        var pooled = weights.matmul(v).transpose(1, 2).reshape(batch, width);                // heads back side by side
        return pooled.MoveToOuterDisposeScope();
    }
}
