using TorchSharp;
using static TorchSharp.torch;

namespace Imagic;

/// <summary>
/// Small tensor helpers that TorchSharp's own versions make unsafe.
/// <para>
/// <b>Scalars.</b> TorchSharp 0.107 turns numbers into <see cref="Scalar"/> objects implicitly, in its operators
/// (<c>x * 2</c>, <c>1 - x</c>) and in overloads that take no alpha (<c>a + b</c> is <c>a.add(b, 1)</c>, and so are
/// <c>add_(b)</c> and <c>arange(n)</c>). Such a Scalar is garbage once its native handle has been read, so a garbage
/// collection during the native call can run its finalizer, which frees the native Scalar while libtorch still reads
/// it: "Unknown scalar type" or an INTERNAL ASSERT at c10/core/Scalar.h, at random, about once an hour of training.
/// The helpers below pass Scalars that stay alive through the call (a process-wide alpha of 1, or a Scalar disposed
/// after the call returns). They compute exactly what the operators compute. <c>ScalarSafetyTests</c> scans the
/// project's assemblies for calls that create Scalars implicitly.
/// </para>
/// </summary>
public static class TensorExtensions
{
    // Lives as long as the process, so no finalizer can free it during a call. An integer, as TorchSharp's own alpha is,
    // so that it also serves integer tensors.
    static readonly Scalar One = 1.ToScalar();
    static readonly Scalar Zero = 0.ToScalar();

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>a += b, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>a + k.</summary>
    public static Tensor Plus(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.add(s, One);
    }

    /// <summary>a += k, in place.</summary>
    public static Tensor PlusInPlace(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.add_(s, One);
    }

    /// <summary>a − k, as a + (−k): the same in floating point.</summary>
    public static Tensor Minus(this Tensor a, double k) => a.Plus(-k);

    /// <summary>k − a, as (−a) + k: the same in floating point.</summary>
    public static Tensor SubtractedFrom(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.neg().add_(s, One);
    }

    /// <summary>a · k.</summary>
    public static Tensor Times(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.mul(s);
    }

    /// <summary>a ·= k, in place.</summary>
    public static Tensor TimesInPlace(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.mul_(s);
    }

    /// <summary>a / k.</summary>
    public static Tensor Over(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.div(s);
    }

    /// <summary>k / a, elementwise.</summary>
    public static Tensor Dividing(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        using var numerator = torch.full_like(a, s);
        return numerator.div(a);
    }

    /// <summary>clamp(a, lo, hi).</summary>
    public static Tensor ClampTo(this Tensor a, double lo, double hi)
    {
        using var l = lo.ToScalar();
        using var h = hi.ToScalar();
        return a.clamp(l, h);
    }

    /// <summary>min(a, k), elementwise.</summary>
    public static Tensor ClampMax(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.clamp_max(s);
    }

    /// <summary>Sets every element of a to k, in place.</summary>
    public static Tensor FillWith(this Tensor a, double k)
    {
        using var s = k.ToScalar();
        return a.fill_(s);
    }

    /// <summary>
    /// A tensor of the given size with every element k, as <c>torch.full(size, k)</c>: of the default floating-point dtype
    /// unless <paramref name="dtype"/> says otherwise.
    /// </summary>
    public static Tensor Full(long[] size, double k, ScalarType? dtype = null, Device? device = null)
    {
        using var s = k.ToScalar();
        return torch.full(size, s, dtype, device);
    }

    /// <summary>0, 1, …, n − 1, as <c>torch.arange(n)</c>.</summary>
    public static Tensor Arange(long n, ScalarType? dtype = null, Device? device = null)
    {
        using var stop = n.ToScalar();
        return torch.arange(Zero, stop, One, dtype, device);
    }

    /// <summary>start, start + 1, …, up to but not including stop, as <c>torch.arange(start, stop)</c>.</summary>
    public static Tensor Arange(double start, double stop, ScalarType? dtype = null, Device? device = null)
    {
        using var from = start.ToScalar();
        using var to = stop.ToScalar();
        return torch.arange(from, to, One, dtype, device);
    }

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
