using static TorchSharp.torch;

namespace Imagic;

/// <summary>Small tensor helpers that TorchSharp's own versions make unsafe.</summary>
public static class TensorExtensions
{
    /// <summary>
    /// x², as x·x. TorchSharp's <c>square()</c> is <c>pow(2)</c> with an implicitly converted Scalar that is left to the
    /// finalizer, which can free it while libtorch still reads it (an INTERNAL ASSERT at c10/core/Scalar.h:279 in training
    /// runs and in the test suite). libtorch computes pow(x, 2) as x·x, so the values are the same.
    /// </summary>
    public static Tensor Squared(this Tensor x) => x.mul(x);

    /// <summary>
    /// <paramref name="f"/>(x), then frees x: for a chain of intermediates (norm, activation, convolution) whose earlier links
    /// nobody reads again, so that a forward pass holds two feature maps at a time instead of every one until its dispose
    /// scope ends. Autograd keeps its own reference to whatever backward needs, so this is safe with gradients on. Never
    /// call it on a tensor the caller still owns (a method's input).
    /// </summary>
    public static Tensor ConsumedBy(this Tensor x, Func<Tensor, Tensor> f)
    {
        var y = f(x);
        if (!ReferenceEquals(y, x)) x.Dispose();
        return y;
    }
}
