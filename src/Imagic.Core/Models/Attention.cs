using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>
/// Multi-head (cross-)attention as diffusers' <c>Attention</c> with the default processor:
/// <c>to_q</c>, <c>to_k</c>, <c>to_v</c>, <c>to_out.0</c>. Used by the UNet transformer blocks
/// (token input [B, N, C]) and, with <see cref="group_norm"/> and a residual, by the VAE mid-block
/// (spatial input [B, C, H, W]).
/// </summary>
/// <remarks>
/// Scores use libtorch's fused scaled-dot-product attention, whose scale 1/√d equals diffusers'
/// <c>dim_head ** -0.5</c>. <c>upcast_attention</c>/<c>upcast_softmax</c> only matter in half
/// precision; this project computes attention in float32, which is what they ask for.
/// </remarks>
public sealed class Attention : Module
{
    public readonly Linear to_q;
    public readonly Linear to_k;
    public readonly Linear to_v;
    public readonly ModuleList<Module> to_out;
    public readonly GroupNorm? group_norm;

    readonly int _heads;
    readonly bool _residual;

    /// <summary>Number of attention heads.</summary>
    public int Heads => _heads;

    /// <summary>
    /// LoRA adapters on the four projections, set by <see cref="LoraAdapters"/>; null (the default) for
    /// the plain layer. Deliberately not a registered child: the state dict keeps the base keys.
    /// </summary>
    public AttentionLora? Lora { get; internal set; }

    /// <summary>
    /// The attention core, (q, k, v) with shapes [B, heads, N, d], [B, heads, M, d], [B, heads, M, d] → [B, heads, N, d];
    /// null (the default) for libtorch's fused scaled-dot-product attention. This is the role of diffusers' attention
    /// processors; the speed benchmark sets a core of linear cost here to bound what a faster kernel could give.
    /// </summary>
    public Func<Tensor, Tensor, Tensor, Tensor>? Core { get; set; }

    /// <summary>The adapters' weights, which <see cref="Module.parameters"/> does not list; empty without LoRA.</summary>
    public IEnumerable<Tensor> AdapterParameters() =>
        Lora is null ? Enumerable.Empty<Tensor>() : Lora.Named().SelectMany(n => n.Adapter.parameters());

    /// <param name="queryDim">Channels of the query input.</param>
    /// <param name="crossAttentionDim">Channels of the context; null for self-attention.</param>
    /// <param name="heads">Number of heads.</param>
    /// <param name="dimHead">Channels per head; inner width is heads × dimHead.</param>
    /// <param name="bias">Bias on q, k, v (false in the UNet, true in the VAE).</param>
    /// <param name="normGroups">If set, a GroupNorm on spatial input and a residual connection (VAE style).</param>
    public Attention(int queryDim, int? crossAttentionDim, int heads, int dimHead, bool bias,
        int? normGroups = null, double normEps = 1e-6) : base(nameof(Attention))
    {
        int inner = heads * dimHead;
        int contextDim = crossAttentionDim ?? queryDim;
        _heads = heads;
        to_q = nn.Linear(queryDim, inner, hasBias: bias);
        to_k = nn.Linear(contextDim, inner, hasBias: bias);
        to_v = nn.Linear(contextDim, inner, hasBias: bias);
        to_out = new ModuleList<Module>(nn.Linear(inner, queryDim, hasBias: true), nn.Dropout(0.0));
        if (normGroups is int groups)
        {
            group_norm = Layers.GroupNorm(groups, queryDim, normEps);
            _residual = true;
        }
        RegisterComponents();
    }

    /// <summary>Attention over tokens [B, N, C], with an optional context [B, M, C'].</summary>
    public Tensor Forward(Tensor hidden, Tensor? context = null)
    {
        if (hidden.dim() == 4)
            return ForwardSpatial(hidden);
        return Attend(hidden, context ?? hidden);
    }

    Tensor ForwardSpatial(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var tokens = group_norm is null ? x : group_norm.call(x);
        tokens = tokens.view(b, c, h * w).transpose(1, 2);
        var y = Attend(tokens, tokens).transpose(1, 2).reshape(b, c, h, w);
        return (_residual ? y.Plus(x) : y).MoveToOuterDisposeScope();
    }

    Tensor Attend(Tensor x, Tensor context)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0];
        var q = SplitHeads(Project(to_q, Lora?.Q, x), b);
        var k = SplitHeads(Project(to_k, Lora?.K, context), b);
        var v = SplitHeads(Project(to_v, Lora?.V, context), b);
        var y = Core is null ? functional.scaled_dot_product_attention(q, k, v) : Core(q, k, v);
        y = y.transpose(1, 2).reshape(b, -1, y.shape[1] * y.shape[3]);
        return Project((Linear)to_out[0], Lora?.Out, y).MoveToOuterDisposeScope();
    }

    static Tensor Project(Linear layer, LoraLinear? adapter, Tensor x) =>
        adapter is null ? layer.call(x) : layer.call(x).Plus(adapter.call(x));

    Tensor SplitHeads(Tensor t, long batch) => t.view(batch, -1, _heads, t.shape[2] / _heads).transpose(1, 2);
}
