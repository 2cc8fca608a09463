using Imagic.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests;

/// <summary>The expected tensors of ../shared/reference/tiny-sd1, loaded once per test run.</summary>
public static class Reference
{
    static readonly Lazy<Dictionary<string, Tensor>> _tensors = new(() =>
    {
        var all = SafeTensors.Load(TestPaths.ReferenceTensors);
        foreach (var t in all.Values) t.DetachFromDisposeScope();
        return all;
    });

    public static Tensor Get(string name) => _tensors.Value[name];

    /// <summary>Asserts max |expected − actual| ≤ <paramref name="atol"/>, reporting the worst element.</summary>
    public static void AssertClose(Tensor expected, Tensor actual, double atol, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        using var scope = torch.NewDisposeScope();
        double maxDiff = (expected.to_type(ScalarType.Float64) - actual.to_type(ScalarType.Float64)).abs().max().item<double>();
        Assert.True(maxDiff <= atol, $"{what}: max abs diff {maxDiff:G4} exceeds {atol:G4}");
    }
}

/// <summary>Exact tensor comparison for determinism tests (TorchSharp's <c>torch.equal</c> returns a tensor).</summary>
public static class Tensors
{
    public static bool Identical(Tensor a, Tensor b) =>
        a.shape.SequenceEqual(b.shape) && a.dtype == b.dtype && a.eq(b).all().item<bool>();
}
