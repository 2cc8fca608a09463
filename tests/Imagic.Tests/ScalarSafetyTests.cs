using System.Reflection;
using System.Reflection.Emit;
using TorchSharp;

namespace Imagic.Tests;

/// <summary>
/// The project never lets TorchSharp create a <see cref="Scalar"/> implicitly: such a Scalar can be finalized while
/// libtorch reads it (see <see cref="TensorExtensions"/>). This scans the IL of the project's assemblies (Core, Cli,
/// Studio) and of this test assembly too, where such a Scalar crashes the test run just as it would crash training, for
/// calls to Scalar's implicit conversions and to TorchSharp methods that make one (directly or through other TorchSharp
/// methods), and names every method that does. It skips only methods marked <see cref="DeliberatelyUnsafeAttribute"/>:
/// <see cref="UnsafeSample"/>, which is unsafe on purpose so that <see cref="Scan_FindsTheOperatorsItGuardsAgainst"/>
/// can check that the scan finds what it guards against.
/// </summary>
public class ScalarSafetyTests
{
    const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static |
        BindingFlags.DeclaredOnly;

    static readonly Dictionary<ushort, OpCode> OpCodeTable = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => (ushort)o.Value);

    [Fact]
    public void ProjectAssemblies_CreateNoScalarImplicitly()
    {
        var unsafeTorchSharp = TorchSharpMethodsThatCreateScalars();
        var offenders = new List<string>();
        foreach (var assembly in new[] { typeof(TensorExtensions).Assembly, typeof(Imagic.Cli.CliRunner).Assembly, typeof(Imagic.Studio.StudioApp).Assembly, typeof(ScalarSafetyTests).Assembly })
            foreach (var method in MethodsOf(assembly).Where(m => !m.IsDefined(typeof(DeliberatelyUnsafeAttribute), false)))
                foreach (var callee in Callees(method).Distinct())
                    if (IsImplicitScalar(callee) || unsafeTorchSharp.Contains(callee))
                        offenders.Add($"{method.DeclaringType?.FullName}.{method.Name} calls {callee.DeclaringType?.Name}.{callee}");
        Assert.True(offenders.Count == 0, "Implicit Scalars (use TensorExtensions' helpers or an explicit, disposed Scalar):\n" +
            string.Join("\n", offenders.Distinct().Order()));
    }

    [Fact]
    public void Scan_FindsTheOperatorsItGuardsAgainst()
    {
        var unsafeTorchSharp = TorchSharpMethodsThatCreateScalars();
        var sample = typeof(ScalarSafetyTests).GetMethod(nameof(UnsafeSample), All)!;
        var found = Callees(sample).Where(c => IsImplicitScalar(c) || unsafeTorchSharp.Contains(c)).Select(c => c.Name).ToHashSet();
        Assert.Contains("op_Addition", found);  // a + b: add(b, 1) inside TorchSharp
        Assert.Contains("op_Multiply", found);  // a * 2
        Assert.Contains("op_Implicit", found);  // a.mul(2.0): our own conversion
        var safe = typeof(ScalarSafetyTests).GetMethod(nameof(SafeSample), All)!;
        Assert.DoesNotContain(Callees(safe), c => IsImplicitScalar(c) || unsafeTorchSharp.Contains(c));
    }

    /// <summary>Marks a method that creates Scalars implicitly on purpose, as a sample for the scan's own test; the scan skips it.</summary>
    [AttributeUsage(AttributeTargets.Method)]
    sealed class DeliberatelyUnsafeAttribute : Attribute { }

    [DeliberatelyUnsafe]
    static torch.Tensor UnsafeSample(torch.Tensor a, torch.Tensor b) => (a + b) * 2 + a.mul(2.0);

    static torch.Tensor SafeSample(torch.Tensor a, torch.Tensor b) => a.Plus(b).Times(2).Plus(a.Times(2.0));

    static bool IsImplicitScalar(MethodBase m) => m.DeclaringType == typeof(Scalar) && m.Name == "op_Implicit";

    static HashSet<MethodBase> TorchSharpMethodsThatCreateScalars()
    {
        var methods = MethodsOf(typeof(torch).Assembly).ToList();
        var callees = methods.ToDictionary(m => m, m => Callees(m).ToList());
        var found = methods.Where(m => callees[m].Any(IsImplicitScalar)).ToHashSet();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var m in methods)
                if (!found.Contains(m) && callees[m].Any(found.Contains)) grew |= found.Add(m);
        }
        return found;
    }

    static IEnumerable<MethodBase> MethodsOf(Assembly assembly) =>
        assembly.GetTypes().SelectMany(t => t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)));

    /// <summary>The methods that <paramref name="method"/>'s IL calls (call, callvirt, newobj, ldftn).</summary>
    static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException) { yield break; }
        if (il is null) yield break;
        for (int i = 0; i < il.Length;)
        {
            ushort value = il[i] == 0xFE ? (ushort)(0xFE00 | il[i + 1]) : il[i];
            i += value >= 0xFE00 ? 2 : 1;
            var op = OpCodeTable[value];
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try
                {
                    callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, i),
                        method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null,
                        method.IsGenericMethod ? method.GetGenericArguments() : null);
                }
                catch (ArgumentException) { }
                if (callee is not null) yield return callee;
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }
}
