using Imagic.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests.Models;

/// <summary>
/// <see cref="Attention.Core"/> replaces only the attention core: unset, the layer computes softmax(q kᵀ/√d) v; set, the
/// projections around it stay and the core given is what runs (the speed benchmark's bound relies on both).
/// </summary>
public class AttentionCoreTests
{
    [Fact]
    public void DefaultCore_IsSoftmaxAttention()
    {
        // Given a two-head cross-attention layer with a core written out by hand
        torch.manual_seed(3);
        using var attention = new Attention(8, 6, heads: 2, dimHead: 4, bias: false);
        var x = torch.randn(2, 5, 8);
        var context = torch.randn(2, 7, 6);
        var fused = attention.Forward(x, context);
        attention.Core = (q, k, v) => q.matmul(k.transpose(2, 3)).Over(Math.Sqrt(q.shape[3])).softmax(-1).matmul(v);

        // When it runs with the hand-written core
        var explicitCore = attention.Forward(x, context);

        // Then the default (fused) core gave the same output
        Assert.True(fused.allclose(explicitCore, rtol: 1e-5, atol: 1e-6), $"max difference {(fused - explicitCore).abs().max().item<float>()}");
    }

    [Fact]
    public void SetCore_IsWhatRuns_AndTheProjectionsStay()
    {
        // Given a self-attention layer whose core returns its values
        torch.manual_seed(4);
        using var attention = new Attention(8, null, heads: 2, dimHead: 4, bias: false);
        var x = torch.randn(1, 3, 8);
        attention.Core = (_, _, v) => v;

        // When it runs
        var y = attention.Forward(x);

        // Then the output is to_out(to_v(x)): the core given ran, between the layer's projections
        using var _ = torch.no_grad();
        var expected = ((TorchSharp.Modules.Linear)attention.to_out[0]).call(attention.to_v.call(x));
        Assert.True(y.allclose(expected, rtol: 1e-5, atol: 1e-6));
    }
}
